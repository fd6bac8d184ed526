/** The demo dataset: synthetic shapes × textures with exact boxes and masks (see generate.ts). */
export { generateDemoDataset, DEMO_GENERATOR_VERSION, DEMO_JPEG_QUALITY } from './generate'
export type { DemoDatasetOptions, DemoDatasetSummary, DemoClassSummary, DemoSplit } from './generate'
export { DEMO_CLASSES, type DemoClass } from './classes'
export { BOX_CONVENTION, MASK_CONVENTION } from './writers'
export { renderScene, type Scene, type SceneObject, type PixelBox } from './scene'
