import { createApi, type ClientApi } from './client'

let instance: ClientApi | null = null

/** The window's one API client, created on first use (it opens the served-mode socket). */
export function useApi(): ClientApi {
  return (instance ??= createApi())
}
