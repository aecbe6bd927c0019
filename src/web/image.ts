/**
 * Images → model inputs, pure (no DOM): the same function prepares the page's input and the test's
 * Node-side input, so both sides run the models on identical numbers.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import type { LabelledSample } from '../data/sample-file.js';

/** Interleaved 8-bit pixels (gray, RGB or RGBA, e.g. canvas ImageData), row-major. */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
  readonly pixels: ArrayLike<number>;
}

export interface ImageInputSpec {
  /** The model's image layout: C × H × W (N is added by the caller). */
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** x = (pixel / 255 − mean) / std. */
  readonly mean: number;
  readonly std: number;
  /** 255 − pixel first (Fashion-MNIST is a light object on a dark background; photos are the other way round). */
  readonly invert?: boolean;
}

/** Gray value of one pixel (ITU-R BT.601 luma for colour). */
function gray(image: RawImage, offset: number): number {
  const p = image.pixels;
  return image.channels === 1 ? p[offset]! : 0.299 * p[offset]! + 0.587 * p[offset + 1]! + 0.114 * p[offset + 2]!;
}

function channelValue(image: RawImage, x: number, y: number, c: number, targetChannels: number): number {
  const offset = (y * image.width + x) * image.channels;
  if (targetChannels === 1) return gray(image, offset);
  if (image.channels === 1) return image.pixels[offset]!; // gray → replicate into every channel
  return image.pixels[offset + Math.min(c, 2)]!;
}

/**
 * Resizes (bilinear, half-pixel centres like torchvision's antialias-free resize) and converts an image
 * into a normalised float32 C×H×W array for `spec`.
 */
export function imageToInput(image: RawImage, spec: ImageInputSpec): Float32Array {
  const { channels, height, width } = spec;
  for (const [name, value] of [['channels', channels], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`'spec.${name}' must be a positive integer, got ${value}`);
  }
  if (image.pixels.length !== image.width * image.height * image.channels) {
    throw new InvalidArgumentError(`'image.pixels' has ${image.pixels.length} values, expected ${image.width}×${image.height}×${image.channels}`);
  }
  if (!(spec.std > 0)) throw new InvalidArgumentError(`'spec.std' must be positive, got ${spec.std}`);
  const out = new Float32Array(channels * height * width);
  const sx = image.width / width;
  const sy = image.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), image.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), image.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, image.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const top = channelValue(image, x0, y0, c, channels) * (1 - wx) + channelValue(image, x1, y0, c, channels) * wx;
        const bottom = channelValue(image, x0, y1, c, channels) * (1 - wx) + channelValue(image, x1, y1, c, channels) * wx;
        let value = top * (1 - wy) + bottom * wy;
        if (spec.invert) value = 255 - value;
        out[(c * height + y) * width + x] = (value / 255 - spec.mean) / spec.std;
      }
    }
  }
  return out;
}

/** Image `index` of the bundled sample as a RawImage (its raw uint8 pixels, before normalisation). */
export function sampleImage(sample: LabelledSample, sampleBytes: Uint8Array, index: number): RawImage {
  const { count, width, height, channels, pixelOffset } = sample.header;
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new InvalidArgumentError(`'index' must be an integer in [0, ${count - 1}], got ${index}`);
  }
  if (channels !== 1 && channels !== 3) throw new InvalidArgumentError(`sample images have ${channels} channels; expected 1 or 3`);
  const size = width * height * channels;
  const start = pixelOffset + index * size;
  return { width, height, channels, pixels: sampleBytes.subarray(start, start + size) };
}
