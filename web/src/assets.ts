/** What the build copied next to the page (see web/vite-assets.ts): the fixture list, the models, the sample. */
import { parseSampleFile, type LabelledSample } from '../../src/web/index.js';

export interface FixtureEntry {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly description: string;
  readonly expect: string;
  readonly dtype: string;
  readonly trained: boolean;
}

export interface Fixtures {
  /** `name`: the sample's own file name (reports name it as `vitlin convert --calibration <file>` does). */
  readonly sample: { readonly file: string; readonly name: string };
  readonly models: readonly FixtureEntry[];
}

export interface Sample {
  readonly name: string;
  readonly parsed: LabelledSample;
  readonly bytes: Uint8Array;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function loadFixtures(): Promise<Fixtures> {
  const response = await fetch('assets/fixtures.json');
  if (!response.ok) throw new Error(`assets/fixtures.json: HTTP ${response.status}`);
  return (await response.json()) as Fixtures;
}

export async function loadSample(fixtures: Fixtures): Promise<Sample> {
  const bytes = await fetchBytes(fixtures.sample.file);
  return { name: fixtures.sample.name, parsed: parseSampleFile(bytes, fixtures.sample.name), bytes };
}

export const fetchFixture = (entry: FixtureEntry): Promise<Uint8Array> => fetchBytes(entry.file);
