/**
 * JSON objects written back to back without a delimiter (`{…}{…}{…}`): what Amazon Data Firehose
 * writes to S3 when no new-line delimiter is configured, e.g. CloudWatch Logs batches from a
 * subscription (each gzip member one batch, the members concatenated). Not an envelope of its
 * own format but a framing: the pieces are split here, then opened like any record (envelope
 * chain `concatenated_json/…`). Only tried on text that is not one JSON value.
 */

/** The top-level objects of `text` when it is two or more JSON objects back to back, else undefined. */
export function splitConcatenatedJson(text: string): string[] | undefined {
  const pieces: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) {
      if (depth === 0) return undefined; // a string outside any object: not a concatenation of objects
      inString = true;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (depth === 0) {
        if (c !== 123) return undefined;
        start = i;
      }
      depth++;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      if (--depth < 0) return undefined;
      if (depth === 0) pieces.push(text.slice(start, i + 1));
    } else if (depth === 0 && c !== 32 && c !== 10 && c !== 13 && c !== 9) {
      return undefined; // anything but whitespace between the objects
    }
  }
  return depth === 0 && pieces.length >= 2 ? pieces : undefined;
}
