/** The image the models classify: one of the bundled sample's images, or an image the user uploads. */
import { imageToInput, sampleImage, type ImageInputSpec, type RawImage } from '../../src/web/index.js';
import type { Sample } from './assets.js';
import { byId } from './dom.js';

/** Uploaded images are scaled down to this many pixels per side before our resize (memory, speed). */
const MAX_UPLOAD_SIDE = 1024;

export interface ChosenImage {
  readonly image: RawImage;
  /** "sample #12: Sneaker" or "photo.png". */
  readonly label: string;
  /** The sample's true class, when the image is from the sample. */
  readonly trueClass?: number;
}

let uploaded: { image: RawImage; name: string } | undefined;

/** Decodes an image file with the browser's decoders (scaled down to MAX_UPLOAD_SIDE); a clear error for non-images. */
export async function decodeImageFile(file: File): Promise<RawImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${file.name}: the browser cannot decode this file as an image`);
  }
  const scale = Math.min(1, MAX_UPLOAD_SIDE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('this browser has no 2D canvas');
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  return { width, height, channels: 4, pixels: context.getImageData(0, 0, width, height).data };
}

/** Decodes an uploaded image to classify. */
export async function decodeUpload(file: File): Promise<void> {
  uploaded = { image: await decodeImageFile(file), name: file.name };
}

export function currentImage(sample: Sample | undefined): ChosenImage {
  const source = (document.querySelector('input[name="image-source"]:checked') as HTMLInputElement | null)?.value;
  if (source === 'upload') {
    if (!uploaded) throw new Error('choose an image file to upload first (or pick a sample image)');
    return { image: uploaded.image, label: uploaded.name };
  }
  if (!sample) throw new Error('the bundled sample is not loaded');
  const input = byId<HTMLInputElement>('sample-index');
  const index = Number(input.value);
  const { count, classes } = sample.parsed.header;
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new Error(`sample # must be a whole number from 0 to ${count - 1}`);
  const trueClass = sample.parsed.labels[index]!;
  return { image: sampleImage(sample.parsed, sample.bytes, index), label: `sample #${index}: ${classes[trueClass]}`, trueClass };
}

/** The model's input for `chosen`, and a preview of exactly those numbers on the page's canvas. */
export function prepareInput(chosen: ChosenImage, spec: ImageInputSpec): Float32Array {
  const input = imageToInput(chosen.image, spec);
  drawPreview(input, spec);
  byId('image-label').textContent = chosen.label;
  return input;
}

function drawPreview(input: Float32Array, spec: ImageInputSpec): void {
  const canvas = byId<HTMLCanvasElement>('preview');
  canvas.width = spec.width;
  canvas.height = spec.height;
  const context = canvas.getContext('2d');
  if (!context) return;
  const pixels = context.createImageData(spec.width, spec.height);
  const plane = spec.width * spec.height;
  const toByte = (x: number): number => (x * spec.std + spec.mean) * 255;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) pixels.data[i * 4 + c] = toByte(input[Math.min(c, spec.channels - 1) * plane + i]!);
    pixels.data[i * 4 + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
}
