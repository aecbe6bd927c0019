/**
 * Images → model inputs: decode PNG / JPEG, resize, centre-crop and normalise to NCHW float32, the way
 * Hugging Face image processors do (resize → centre crop → rescale → normalise, PIL's resampling filters).
 *
 * Decoding uses `fast-png` and `jpeg-js`: both are pure JavaScript with no Node built-ins (jpeg-js is told
 * to return typed arrays), so this file runs unchanged in the browser app; `sharp` would be faster but is a
 * native addon that cannot go there. Everything here is pure: bytes in, typed arrays out.
 */
import { decode as decodeJpegBytes } from 'jpeg-js';
import { decode as decodePngBytes, type DecodedPng } from 'fast-png';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';

/** The bytes are not an image vitlin can decode (unknown format, corrupt, too large). */
export class ImageDecodeError extends InvalidArgumentError {}

/** 8-bit pixels, interleaved (HWC): `channels` is 1 (grey) or 3 (RGB). */
export interface RasterImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

export type ImageFormat = 'png' | 'jpeg';

/** PIL's resampling filters, by the numbers Hugging Face configs use (`"resample": 2`). */
export const RESAMPLE = { nearest: 0, lanczos: 1, bilinear: 2, bicubic: 3, box: 4, hamming: 5 } as const;
export type Resample = (typeof RESAMPLE)[keyof typeof RESAMPLE];

/** Default pixel budget: like PIL's decompression-bomb guard, refuse images that would need huge buffers. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

/** Recognises PNG and JPEG by their signatures (content types lie; magic bytes do not). */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Unpacks one row of 1/2/4-bit samples to one byte each. */
function unpackSamples(row: Uint8Array, count: number, depth: number): Uint8Array {
  const out = new Uint8Array(count);
  const perByte = 8 / depth;
  const mask = (1 << depth) - 1;
  for (let i = 0; i < count; i++) {
    const shift = 8 - depth * ((i % perByte) + 1);
    out[i] = (row[Math.floor(i / perByte)]! >> shift) & mask;
  }
  return out;
}

function pngToRaster(png: DecodedPng): RasterImage {
  const { width, height, depth } = png;
  const pixels = width * height;
  // Samples per pixel as stored; palette images store one index per pixel.
  const stored = png.palette ? 1 : png.channels;
  const samples = new Uint8Array(pixels * stored);
  if (depth === 16) {
    const wide = png.data as Uint16Array;
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(wide[i]! / 257);
  } else if (depth === 8) {
    samples.set((png.data as Uint8Array).subarray(0, samples.length));
  } else {
    // Sub-byte rows are byte-aligned: unpack row by row, and scale grey levels to 0–255 (not palette indices).
    const rowBytes = Math.ceil((depth * stored * width) / 8);
    const scale = png.palette ? 1 : 255 / ((1 << depth) - 1);
    for (let y = 0; y < height; y++) {
      const row = unpackSamples((png.data as Uint8Array).subarray(y * rowBytes, (y + 1) * rowBytes), width * stored, depth);
      for (let i = 0; i < row.length; i++) samples[y * width * stored + i] = Math.round(row[i]! * scale);
    }
  }
  if (png.palette) {
    const data = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) {
      const entry = png.palette[samples[i]!];
      if (!entry) throw new ImageDecodeError(`PNG palette index ${samples[i]} is out of range (${png.palette.length} colours)`);
      data[i * 3] = entry[0]!;
      data[i * 3 + 1] = entry[1]!;
      data[i * 3 + 2] = entry[2]!;
    }
    return { width, height, channels: 3, data };
  }
  // Alpha is dropped, as PIL's convert('RGB') / convert('L') does.
  const channels = png.channels <= 2 ? 1 : 3;
  if (stored === channels) return { width, height, channels, data: samples };
  const data = new Uint8Array(pixels * channels);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < channels; c++) data[i * channels + c] = samples[i * stored + c]!;
  }
  return { width, height, channels, data };
}

/** Width and height from a PNG's IHDR, read before decoding so a tiny file cannot ask for a huge buffer. */
function pngDimensions(bytes: Uint8Array): [number, number] {
  if (bytes.length < 24) throw new ImageDecodeError(`PNG is truncated: ${bytes.length} bytes, no IHDR chunk`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this; default {@link DEFAULT_MAX_PIXELS}. */
  readonly maxPixels?: number;
}

/** Decodes a PNG or JPEG to 8-bit grey or RGB pixels. Throws {@link ImageDecodeError} naming the problem. */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): RasterImage {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    throw new ImageDecodeError(`not a PNG or JPEG image (${bytes.length} bytes, starting ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ') || 'with nothing'})`);
  }
  if (format === 'png') {
    const [width, height] = pngDimensions(bytes);
    if (width * height > maxPixels) throw new ImageDecodeError(`PNG is ${width}×${height}, more than the ${maxPixels} pixels allowed`);
    let png: DecodedPng;
    try {
      png = decodePngBytes(bytes, { checkCrc: true });
    } catch (cause) {
      throw new ImageDecodeError(`PNG could not be decoded: ${(cause as Error).message}`);
    }
    return pngToRaster(png);
  }
  try {
    const jpeg = decodeJpegBytes(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false,
      maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: Math.ceil((maxPixels * 8) / 2 ** 20) });
    if (!(jpeg.width > 0 && jpeg.height > 0)) throw new Error('no image data');
    return { width: jpeg.width, height: jpeg.height, channels: 3, data: jpeg.data };
  } catch (cause) {
    throw new ImageDecodeError(`JPEG could not be decoded: ${(cause as Error).message}`);
  }
}

/** Grey ↔ RGB: grey is ITU-R 601-2 luma with PIL's fixed-point rounding, so `L` images match PIL's. */
export function convertChannels(image: RasterImage, channels: 1 | 3): RasterImage {
  if (image.channels === channels) return image;
  const pixels = image.width * image.height;
  const data = new Uint8Array(pixels * channels);
  if (channels === 3) {
    for (let i = 0; i < pixels; i++) data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = image.data[i]!;
  } else {
    const src = image.data;
    for (let i = 0; i < pixels; i++) data[i] = (src[i * 3]! * 19595 + src[i * 3 + 1]! * 38470 + src[i * 3 + 2]! * 7471 + 0x8000) >> 16;
  }
  return { width: image.width, height: image.height, channels, data };
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
/** PIL's filters (Resample.c): support and kernel. */
const FILTERS: Record<Exclude<Resample, 0>, { support: number; kernel: (x: number) => number }> = {
  1: { support: 3, kernel: (x) => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  2: { support: 1, kernel: (x) => Math.max(0, 1 - Math.abs(x)) },
  3: { support: 2, kernel: (x) => {
    const a = -0.5;
    const t = Math.abs(x);
    if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
    return 0;
  } },
  4: { support: 0.5, kernel: (x) => (x >= -0.5 && x < 0.5 ? 1 : 0) },
  5: { support: 1, kernel: (x) => (x > -1 && x < 1 ? sinc(x) * (0.54 + 0.46 * Math.cos(Math.PI * x)) : 0) },
};

/** Per output index: first input index and normalised weights (PIL's precompute_coeffs, antialiased when shrinking). */
function coefficients(inSize: number, outSize: number, filter: Resample): { start: number; weights: Float64Array }[] {
  const scale = inSize / outSize;
  if (filter === 0) {
    return Array.from({ length: outSize }, (_, i) => ({ start: Math.min(inSize - 1, Math.floor((i + 0.5) * scale)), weights: Float64Array.of(1) }));
  }
  const { support: base, kernel } = FILTERS[filter];
  const filterScale = Math.max(scale, 1);
  const support = base * filterScale;
  return Array.from({ length: outSize }, (_, i) => {
    const center = (i + 0.5) * scale;
    const start = Math.max(Math.trunc(center - support + 0.5), 0);
    const end = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights = new Float64Array(end - start);
    let total = 0;
    for (let x = start; x < end; x++) total += weights[x - start] = kernel((x - center + 0.5) / filterScale);
    if (total !== 0) for (let k = 0; k < weights.length; k++) weights[k]! /= total;
    return { start, weights };
  });
}

const clamp8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** One separable pass along x (`horizontal`) or y, rounding to 8 bits as PIL does between passes. */
function resamplePass(image: RasterImage, size: number, filter: Resample, horizontal: boolean): RasterImage {
  const { width, height, channels, data } = image;
  const outWidth = horizontal ? size : width;
  const outHeight = horizontal ? height : size;
  const coeffs = coefficients(horizontal ? width : height, size, filter);
  const out = new Uint8Array(outWidth * outHeight * channels);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const { start, weights } = coeffs[horizontal ? x : y]!;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) {
          const index = horizontal ? (y * width + start + k) * channels + c : ((start + k) * width + x) * channels + c;
          sum += weights[k]! * data[index]!;
        }
        out[(y * outWidth + x) * channels + c] = clamp8(sum);
      }
    }
  }
  return { width: outWidth, height: outHeight, channels, data: out };
}

/** Resizes like PIL's `Image.resize(size, resample)`: horizontal pass, then vertical; default bilinear. */
export function resizeImage(image: RasterImage, width: number, height: number, filter: Resample = RESAMPLE.bilinear): RasterImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InvalidArgumentError(`'width' and 'height' must be positive integers, got ${width}×${height}`);
  }
  let result = image;
  if (width !== image.width) result = resamplePass(result, width, filter, true);
  if (height !== image.height) result = resamplePass(result, height, filter, false);
  return result;
}

/** Centre crop like transformers' `center_crop`: top-left at ⌊(size − crop) / 2⌋, zero padding when the crop is larger. */
export function centerCrop(image: RasterImage, width: number, height: number): RasterImage {
  if (width === image.width && height === image.height) return image;
  const top = Math.floor((image.height - height) / 2);
  const left = Math.floor((image.width - width) / 2);
  const { channels } = image;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= image.width) continue;
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = image.data[(sy * image.width + sx) * channels + c]!;
    }
  }
  return { width, height, channels, data: out };
}

/** How to resize before the crop: to an exact size, or the shortest edge to a length (keeping the aspect ratio). */
export type ResizeTarget = { readonly height: number; readonly width: number } | { readonly shortestEdge: number };

/** A complete preprocessing recipe (see hf-folder.ts for reading one from preprocessor_config.json). */
export interface ImagePreprocessing {
  readonly channels: 1 | 3;
  /** Undefined: no resize. */
  readonly resize?: ResizeTarget;
  readonly resample: Resample;
  /** Undefined: no crop. */
  readonly crop?: { readonly height: number; readonly width: number };
  /** Multiply pixels by this (1/255 in most configs); undefined: no rescale. */
  readonly rescaleFactor?: number;
  /** Per-channel mean and std (length 1 or `channels`); undefined: no normalisation. */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] };
}

/** transformers' get_resize_output_image_size for `shortest_edge`: the long side is truncated, not rounded. */
function shortestEdgeSize(width: number, height: number, edge: number): [number, number] {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const scaled = Math.trunc((edge * long) / short);
  return width <= height ? [edge, scaled] : [scaled, edge];
}

/** Rescale and normalise HWC bytes into a CHW float32 array. */
export function toChwFloat32(image: RasterImage, recipe: Pick<ImagePreprocessing, 'rescaleFactor' | 'normalize'>): Float32Array {
  const { width, height, channels, data } = image;
  const plane = width * height;
  const out = new Float32Array(plane * channels);
  const factor = recipe.rescaleFactor ?? 1;
  for (let c = 0; c < channels; c++) {
    const mean = recipe.normalize ? recipe.normalize.mean[recipe.normalize.mean.length === 1 ? 0 : c]! : 0;
    const std = recipe.normalize ? recipe.normalize.std[recipe.normalize.std.length === 1 ? 0 : c]! : 1;
    for (let i = 0; i < plane; i++) out[c * plane + i] = (data[i * channels + c]! * factor - mean) / std;
  }
  return out;
}

/** The result of {@link preprocessImage}: one image, NCHW with N = 1. */
export interface ImageTensor {
  readonly data: Float32Array;
  readonly dims: [1, number, number, number];
}

/** Decode → channels → resize → centre crop → rescale → normalise, the order Hugging Face processors use. */
export function preprocessImage(bytes: Uint8Array, recipe: ImagePreprocessing, options: DecodeOptions = {}): ImageTensor {
  let image = convertChannels(decodeImage(bytes, options), recipe.channels);
  if (recipe.resize) {
    const [width, height] = 'shortestEdge' in recipe.resize
      ? shortestEdgeSize(image.width, image.height, recipe.resize.shortestEdge)
      : [recipe.resize.width, recipe.resize.height];
    image = resizeImage(image, width, height, recipe.resample);
  }
  if (recipe.crop) image = centerCrop(image, recipe.crop.width, recipe.crop.height);
  return { data: toChwFloat32(image, recipe), dims: [1, image.channels, image.height, image.width] };
}
