/**
 * Image decoding and preprocessing. Resampling is checked against values PIL 9.4 produced for the same
 * input (`Image.resize`, `convert('L')`), hard-coded below, so the browser and server match Hugging Face.
 */
import { encode as encodePng, type ImageData } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import {
  centerCrop, convertChannels, decodeImage, ImageDecodeError, preprocessImage, RESAMPLE, resizeImage, sniffImageFormat,
  toChwFloat32, type RasterImage, type Resample,
} from '../../src/data/images.js';

/** A 9×7 grey test card and PIL's answers for it. */
const CARD = [0, 37, 74, 111, 148, 185, 222, 3, 40, 91, 139, 187, 235, 27, 75, 123, 94, 142, 182, 241, 44, 103, 85, 144, 203, 185, 244, 17, 87, 157, 150, 220, 213, 27, 20, 90, 108, 189, 193, 18, 22, 103, 107, 111, 192, 199, 35, 50, 65, 157, 172, 187, 202, 38, 34, 137, 163, 189, 215, 241, 11, 37, 140];
const card: RasterImage = { width: 9, height: 7, channels: 1, data: Uint8Array.from(CARD) };
const PIL_RESIZE: [string, number, number, Resample, number[]][] = [
  ['bilinear down', 4, 3, RESAMPLE.bilinear, [106, 129, 129, 118, 124, 123, 131, 117, 114, 118, 148, 114]],
  ['bicubic down', 4, 3, RESAMPLE.bicubic, [101, 130, 133, 115, 131, 120, 127, 125, 110, 121, 151, 108]],
  ['lanczos down', 5, 4, RESAMPLE.lanczos, [65, 135, 115, 145, 79, 148, 142, 133, 125, 156, 118, 110, 101, 123, 109, 107, 106, 181, 141, 101]],
  ['box down', 3, 3, RESAMPLE.box, [88, 130, 104, 135, 118, 131, 103, 173, 103]],
  ['hamming', 4, 5, RESAMPLE.hamming, [46, 122, 164, 56, 169, 123, 123, 174, 83, 151, 153, 68, 136, 73, 122, 139, 99, 164, 169, 88]],
  ['nearest', 5, 9, RESAMPLE.nearest, [0, 74, 148, 222, 40, 91, 187, 27, 123, 142, 91, 187, 27, 123, 142, 182, 44, 85, 203, 244, 17, 157, 220, 27, 90, 108, 193, 22, 107, 192, 199, 50, 157, 187, 38, 199, 50, 157, 187, 38, 34, 163, 215, 11, 140]],
  ['bilinear up', 13, 10, RESAMPLE.bilinear, [0, 20, 46, 71, 97, 122, 148, 174, 199, 205, 54, 20, 40, 50, 73, 103, 133, 163, 149, 81, 111, 141, 159, 80, 73, 96, 114, 141, 162, 152, 183, 153, 42, 77, 112, 141, 123, 140, 168, 177, 209, 194, 65, 87, 101, 82, 123, 163, 198, 185, 207, 239, 75, 111, 136, 119, 127, 146, 173, 184, 150, 88, 80, 108, 144, 49, 89, 133, 166, 129, 118, 151, 167, 128, 54, 53, 86, 126, 113, 150, 182, 186, 84, 23, 29, 82, 109, 111, 114, 147, 184, 176, 121, 76, 85, 66, 75, 123, 145, 160, 168, 177, 132, 77, 125, 101, 85, 99, 113, 140, 183, 197, 167, 109, 123, 108, 84, 34, 89, 143, 161, 179, 197, 215, 233, 153, 13, 31, 85, 140]],
];
/** PIL convert('L') of the RGB card (g, 255 − g, 3g mod 256). */
const PIL_LUMA = [150, 152, 154, 126, 128, 101, 103, 150, 152, 125, 128, 101, 104, 151, 154, 127, 126, 128, 101, 104, 152, 126, 154, 128, 102, 101, 104, 151, 125, 129, 129, 103, 103, 151, 151, 125, 126, 102, 102, 151, 151, 126, 126, 126, 102, 102, 152, 152, 153, 129, 101, 101, 102, 152, 152, 128, 129, 102, 103, 104, 150, 152, 128];
/** An 8×8 grey JPEG PIL wrote at quality 100, and the pixels PIL decodes from it. */
const GREY_JPEG = Buffer.from('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAAIAAgBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/APn/AP4N3PDX/Ijfu/8AoHdv+udf/9k=', 'base64');
const GREY_JPEG_PIXELS = Array.from({ length: 64 }, (_, i) => ((i % 8) * 30 + Math.floor(i / 8) * 2) % 256);

const rgbCard = (): RasterImage => {
  const data = new Uint8Array(CARD.length * 3);
  CARD.forEach((g, i) => data.set([g, 255 - g, (g * 3) % 256], i * 3));
  return { width: 9, height: 7, channels: 3, data };
};
const png = (image: ImageData) => encodePng(image);

describe('resizeImage matches PIL', () => {
  it.each(PIL_RESIZE)('%s to %i×%i', (_name, width, height, filter, expected) => {
    const resized = resizeImage(card, width, height, filter);
    expect([resized.width, resized.height]).toEqual([width, height]);
    // PIL works in 22-bit fixed point; float rounding may differ by one level at exact halves.
    const worst = Math.max(...Array.from(resized.data, (v, i) => Math.abs(v - expected[i]!)));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('resizes RGB channel by channel', () => {
    const resized = resizeImage(rgbCard(), 4, 3);
    const red = Array.from({ length: 12 }, (_, i) => resized.data[i * 3]!);
    expect(red).toEqual(PIL_RESIZE[0]![4]);
  });

  it.each([[0, 3], [3, -1], [2.5, 2]])('refuses size %s×%s', (w, h) => {
    expect(() => resizeImage(card, w, h)).toThrow(/positive integers/);
  });
});

describe('channels, crop and normalisation', () => {
  it('converts RGB to grey with PIL\'s luma', () => {
    expect(Array.from(convertChannels(rgbCard(), 1).data)).toEqual(PIL_LUMA);
  });

  it('replicates grey to RGB', () => {
    const rgb = convertChannels(card, 3);
    expect(Array.from(rgb.data.subarray(0, 6))).toEqual([0, 0, 0, 37, 37, 37]);
  });

  it.each([
    // [crop w, h, expected first row] — top-left at floor((size − crop) / 2), zero padding past the edges.
    [5, 3, CARD.slice(2 * 9 + 2, 2 * 9 + 7)],
    [9, 7, CARD.slice(0, 9)],
    [11, 7, [0, ...CARD.slice(0, 9), 0]],
  ])('centre-crops to %i×%i', (width, height, firstRow) => {
    const cropped = centerCrop(card, width, height);
    expect(Array.from(cropped.data.subarray(0, width))).toEqual(firstRow);
  });

  it('rescales and normalises per channel into CHW', () => {
    const image: RasterImage = { width: 2, height: 1, channels: 3, data: Uint8Array.of(0, 255, 51, 255, 0, 102) };
    const chw = toChwFloat32(image, { rescaleFactor: 1 / 255, normalize: { mean: [0.5, 0.5, 0], std: [0.5, 0.5, 0.2] } });
    expect(Array.from(chw)).toEqual([-1, 1, 1, -1, 1, 2].map((v) => expect.closeTo(v, 6)));
  });
});

describe('decodeImage', () => {
  const grey = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
  const cases: [string, () => Uint8Array, RasterImage['channels'], number[]][] = [
    ['8-bit grey PNG', () => png({ width: 4, height: 3, data: grey, channels: 1 }), 1, Array.from(grey)],
    ['grey + alpha PNG (alpha dropped)', () => png({ width: 2, height: 1, data: Uint8Array.of(10, 255, 20, 0), channels: 2 }), 1, [10, 20]],
    ['RGB PNG', () => png({ width: 2, height: 1, data: Uint8Array.of(1, 2, 3, 4, 5, 6), channels: 3 }), 3, [1, 2, 3, 4, 5, 6]],
    ['RGBA PNG (alpha dropped)', () => png({ width: 2, height: 1, data: Uint8Array.of(1, 2, 3, 0, 4, 5, 6, 255), channels: 4 }), 3, [1, 2, 3, 4, 5, 6]],
    ['16-bit grey PNG', () => png({ width: 2, height: 1, data: Uint16Array.of(0, 65535), depth: 16, channels: 1 }), 1, [0, 255]],
    ['1-bit grey PNG (rows byte-aligned)', () => png({ width: 3, height: 2, data: Uint8Array.of(0b10100000, 0b01000000), depth: 1, channels: 1 }), 1, [255, 0, 255, 0, 255, 0]],
    ['palette PNG', () => png({ width: 3, height: 1, data: Uint8Array.of(0b00011011), depth: 2, channels: 1, palette: [[255, 0, 0], [0, 255, 0], [0, 0, 255]] }), 3, [255, 0, 0, 0, 255, 0, 0, 0, 255]],
    ['grey JPEG (PIL)', () => GREY_JPEG, 3, GREY_JPEG_PIXELS.flatMap((v) => [v, v, v])],
  ];
  it.each(cases)('decodes %s', (_name, make, channels, expected) => {
    const image = decodeImage(make());
    expect(image.channels).toBe(channels);
    const worst = Math.max(...Array.from(image.data, (v, i) => Math.abs(v - expected[i]!)));
    expect(image.data.length).toBe(expected.length);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('decodes a colour JPEG close to what was encoded', () => {
    const rgba = new Uint8Array(16 * 16 * 4).map((_, i) => (i % 4 === 3 ? 255 : 128 + ((i % 4) * 30)));
    const image = decodeImage(encodeJpeg({ width: 16, height: 16, data: rgba }, 95).data);
    expect([image.width, image.height, image.channels]).toEqual([16, 16, 3]);
    expect(Math.abs(image.data[0]! - 128) + Math.abs(image.data[1]! - 158) + Math.abs(image.data[2]! - 188)).toBeLessThan(9);
  });

  const bigHeader = () => {
    const bytes = png({ width: 1, height: 1, data: Uint8Array.of(0), channels: 1 });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    view.setUint32(16, 100_000);
    view.setUint32(20, 100_000);
    return bytes;
  };
  const bad: [string, () => Uint8Array, RegExp][] = [
    ['empty bytes', () => new Uint8Array(0), /not a PNG or JPEG image \(0 bytes/],
    ['text', () => new TextEncoder().encode('hello, world'), /not a PNG or JPEG image .*68 65 6c 6c/],
    ['a truncated PNG', () => png({ width: 4, height: 3, data: grey, channels: 1 }).subarray(0, 40), /PNG could not be decoded/],
    ['a PNG with only a signature', () => png({ width: 4, height: 3, data: grey, channels: 1 }).subarray(0, 12), /PNG is truncated/],
    ['a PNG claiming 100000×100000', bigHeader, /100000×100000, more than the 40000000 pixels/],
    ['a truncated JPEG', () => GREY_JPEG.subarray(0, 100), /JPEG could not be decoded/],
  ];
  it.each(bad)('refuses %s with ImageDecodeError', (_name, make, message) => {
    expect(() => decodeImage(make())).toThrow(ImageDecodeError);
    expect(() => decodeImage(make())).toThrow(message);
  });

  it('honours maxPixels for JPEG too', () => {
    expect(() => decodeImage(GREY_JPEG, { maxPixels: 10 })).toThrow(ImageDecodeError);
  });

  it('sniffs formats by signature', () => {
    expect(sniffImageFormat(GREY_JPEG)).toBe('jpeg');
    expect(sniffImageFormat(png({ width: 1, height: 1, data: Uint8Array.of(0), channels: 1 }))).toBe('png');
    expect(sniffImageFormat(Uint8Array.of(1, 2, 3))).toBeUndefined();
  });
});

describe('preprocessImage', () => {
  it('resizes the shortest edge, centre-crops, rescales, normalises and converts channels', () => {
    const bytes = png({ width: 9, height: 7, data: Uint8Array.from(CARD), channels: 1 });
    const tensor = preprocessImage(bytes, {
      channels: 3, resize: { shortestEdge: 4 }, resample: RESAMPLE.bilinear, crop: { height: 4, width: 4 },
      rescaleFactor: 1 / 255, normalize: { mean: [0.5], std: [0.5] },
    });
    // Shortest edge 7 → 4 makes 9×7 → 5×4 (5.14 truncated); the crop then drops column 0.
    const resized = resizeImage(card, 5, 4);
    const expected = Array.from({ length: 16 }, (_, i) => (resized.data[Math.floor(i / 4) * 5 + (i % 4)]! / 255 - 0.5) / 0.5);
    expect(tensor.dims).toEqual([1, 3, 4, 4]);
    expect(Array.from(tensor.data.subarray(0, 16))).toEqual(expected.map((v) => expect.closeTo(v, 6)));
    expect(Array.from(tensor.data.subarray(32, 48))).toEqual(Array.from(tensor.data.subarray(0, 16)));
  });
});
