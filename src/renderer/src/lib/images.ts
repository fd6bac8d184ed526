/** Decoded images by URL, shared by every canvas that draws them (the same images recur across panels). */
const images = new Map<string, Promise<HTMLImageElement>>()
const CAPACITY = 400

export function loadImage(url: string): Promise<HTMLImageElement> {
  let p = images.get(url)
  if (!p) {
    p = new Promise((resolve, reject) => {
      const img = new Image()
      img.crossOrigin = 'anonymous' // canvases drawing it stay exportable (Electron's image scheme is another origin)
      img.onload = () => resolve(img)
      img.onerror = () => reject(new Error(`could not load ${url}`))
      img.src = url
    })
    p.catch(() => images.delete(url))
    images.set(url, p)
    if (images.size > CAPACITY) images.delete(images.keys().next().value as string)
  }
  return p
}
