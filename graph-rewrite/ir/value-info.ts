/**
 * ValueInfoProto ⇄ Value annotations (type, doc string, metadata, unknown fields), shared by the
 * reader and the writer so that "what saving would write" is computed one way only.
 */

import type { ValueInfoProto } from '../serde/onnx-schema.js';
import type { ValueInfoEntry } from './graph.js';
import { cloneProto, makeMessage, metadataToProto, protoEqual } from './proto-utils.js';
import { typeToProto } from './types.js';
import type { Value } from './value.js';

/** The ValueInfoProto a value's annotations describe. */
export function valueInfoToProto(value: Value): ValueInfoProto {
  return makeMessage<ValueInfoProto>('ValueInfoProto', {
    name: value.name ?? '',
    type: value.type === undefined ? undefined : typeToProto(value.type),
    doc_string: value.docString,
    metadata_props: metadataToProto(value.metadataProps),
    $unknown: value.unknownFields === undefined ? undefined : [...value.unknownFields],
  });
}

/** A listing as it was read while the value's annotations are unchanged, else as the value now says. */
export function valueInfoEntryToProto(entry: ValueInfoEntry): ValueInfoProto {
  const generated = valueInfoToProto(entry.value);
  if (entry.loaded !== undefined && protoEqual(generated, entry.loaded.generatedAtLoad)) return cloneProto(entry.loaded.original);
  return generated;
}

/** What to remember of a listing read from a model: nothing when writing it back would be identical. */
export function loadedListing(value: Value, original: ValueInfoProto): ValueInfoEntry['loaded'] {
  const generatedAtLoad = valueInfoToProto(value);
  return protoEqual(generatedAtLoad, original) ? undefined : { original, generatedAtLoad };
}
