/** How a pan moves the Embeddings map's points (renderer lib/panShift.ts): the pixel shift of a pan and the plot-area clip; hand-checked cases. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type AxisView, panShift, plotClip } from '../../src/renderer/src/lib/panShift'

// A plot area of 800 × 400 px at (40, 30) px; x from 0 to 100, y from -10 to 10 (4 px a unit on x, 20 px on y).
const x = (range: [number, number]): AxisView => ({ range, length: 800, offset: 40 })
const y = (range: [number, number]): AxisView => ({ range, length: 400, offset: 30 })
const before = { x: x([0, 100]), y: y([-10, 10]) }

test('panShift: the view moved by whole units shifts every point by its pixels (x right, y down as on screen)', () => {
  // The view moves 5 units left (points 40 px right) and 1 unit up (points 20 px down).
  assert.deepEqual(panShift(before, { x: x([-5, 95]), y: y([-9, 11]) }), { dx: 40, dy: 20 })
  assert.deepEqual(panShift(before, { x: x([10, 110]), y: y([-12, 8]) }), { dx: -80, dy: -40 })
  // A reversed axis (range[0] > range[1]) moves the other way on screen.
  assert.deepEqual(panShift({ x: x([100, 0]), y: before.y }, { x: x([95, -5]), y: before.y }), { dx: -40, dy: 0 })
})

test('panShift: no shift for a zoom, a resized plot or no move (those draw)', () => {
  assert.equal(panShift(before, { x: x([0, 50]), y: before.y }), null, 'x zoomed')
  assert.equal(panShift(before, { x: before.x, y: y([-5, 5]) }), null, 'y zoomed')
  assert.equal(panShift(before, { x: { ...before.x, length: 700 }, y: before.y }), null, 'resized')
  assert.equal(panShift(before, { x: { ...before.x, offset: 50 }, y: before.y }), null, 'margins moved')
  assert.equal(panShift(before, before), null, 'no move (a lasso or a restyle)')
  assert.equal(panShift({ x: x([3, 3]), y: before.y }, { x: x([4, 4]), y: before.y }), null, 'an empty span')
  // Rounding of plotly's moved range (a - d, b - d) is still a pan.
  const d = 0.1 + 0.2
  assert.ok(panShift(before, { x: x([0 - d, 100 - d]), y: before.y }))
})

test('plotClip: the canvas moved by (dx, dy) still shows only the plot area', () => {
  // Canvas 900 × 480 px: the plot area leaves 40 left, 60 right, 30 top, 50 bottom.
  assert.equal(plotClip(before.x, before.y, 900, 480, 0, 0), 'inset(30px 60px 50px 40px)')
  // Moved 100 px right and 20 px up: in the canvas's own coordinates the area is 100 px further left and 20 px lower.
  assert.equal(plotClip(before.x, before.y, 900, 480, 100, -20), 'inset(50px 160px 30px -60px)')
})
