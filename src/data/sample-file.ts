/**
 * The bundled labelled image sample (`vitlin-fmnist-sample-v1`, see models/README.md): a uint32 LE header
 * length, a JSON header, uint8 pixels, uint8 labels. Parsing is pure (no Node built-ins) so the browser
 * app reads the same file.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';

export interface SampleHeader {
  readonly format: string;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly pixelOffset: number;
  readonly labelOffset: number;
  readonly classes: readonly string[];
  readonly normalization: { readonly mean: number; readonly std: number };
}

export interface LabelledSample {
  readonly header: SampleHeader;
  /** Normalised images, NCHW float32: ((pixel / 255) − mean) / std. */
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  /** [count, channels, height, width]. */
  readonly shape: readonly [number, number, number, number];
}

export const SAMPLE_FORMAT = 'vitlin-fmnist-sample-v1';

function fail(source: string, why: string): never {
  throw new InvalidArgumentError(`${source}: not a ${SAMPLE_FORMAT} sample file (${why})`);
}

/** Parses a sample file's bytes; `source` names it in errors. */
export function parseSampleFile(bytes: Uint8Array, source = '<bytes>'): LabelledSample {
  if (bytes.length < 4) fail(source, `${bytes.length} bytes`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (headerLength > bytes.length - 4) fail(source, `header length ${headerLength} exceeds the file`);
  let header: SampleHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(4, 4 + headerLength))) as SampleHeader;
  } catch (error) {
    fail(source, `header is not JSON: ${(error as Error).message}`);
  }
  if (header.format !== SAMPLE_FORMAT) fail(source, `format ${JSON.stringify(header.format)}`);
  const pixelsPerImage = header.channels * header.height * header.width;
  const pixelBytes = header.count * pixelsPerImage;
  if (header.pixelOffset + pixelBytes > bytes.length || header.labelOffset + header.count > bytes.length) {
    fail(source, `${header.count} images need ${header.labelOffset + header.count} bytes, the file has ${bytes.length}`);
  }
  const { mean, std } = header.normalization;
  const pixels = bytes.subarray(header.pixelOffset, header.pixelOffset + pixelBytes);
  const images = new Float32Array(pixelBytes);
  for (let i = 0; i < pixelBytes; i++) images[i] = (pixels[i]! / 255 - mean) / std;
  return {
    header,
    images,
    labels: bytes.slice(header.labelOffset, header.labelOffset + header.count),
    shape: [header.count, header.channels, header.height, header.width],
  };
}
