/** Painting RGBA pixels (lib/pixelMaps.ts) onto canvases at their own size; PixelCanvas shows them enlarged. */

/** A painter for PixelCanvas: the canvas becomes width × height with these pixels. */
export function rgbaPainter(rgba: Uint8ClampedArray, width: number, height: number): (canvas: HTMLCanvasElement) => void {
  return (canvas) => {
    canvas.width = width
    canvas.height = height
    canvas.getContext('2d')!.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0)
  }
}
