// Validation of a JSON file a person opens in the UI: a list of Zipkin v2 spans (what the
// trace page's Download produces), or a list of such lists (a search result). v1 spans and
// anything else are refused with a message saying what is wrong.

/** Returns the spans of one trace or throws an Error whose message is shown to the person. */
export function parseTraceFile(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${err.message})`);
  }
  if (!Array.isArray(data)) {
    throw new Error('expected a JSON list of spans, like the file Download produces');
  }
  if (data.length === 0) throw new Error('the file holds no spans');
  // A search result is a list of traces; show the first one.
  const spans = Array.isArray(data[0]) ? data[0] : data;
  if (spans.length === 0) throw new Error('the file holds no spans');
  spans.forEach((span, i) => {
    if (!span || typeof span !== 'object' || Array.isArray(span)) {
      throw new Error(`item ${i} is not a span object`);
    }
    if ('binaryAnnotations' in span || (Array.isArray(span.annotations) && span.annotations.some((a) => a && a.endpoint))) {
      throw new Error('this is Zipkin v1 JSON; only v2 spans can be opened (localEndpoint, tags)');
    }
    if (typeof span.traceId !== 'string' || !/^[0-9a-fA-F]{1,32}$/.test(span.traceId)) {
      throw new Error(`span ${i} has no valid traceId`);
    }
    if (typeof span.id !== 'string' || !/^[0-9a-fA-F]{1,16}$/.test(span.id)) {
      throw new Error(`span ${i} has no valid id`);
    }
  });
  // Compare the low 64 bits: a 128-bit trace may hold fragments reported with 64-bit ids.
  const traceIds = new Set(spans.map((s) => s.traceId.toLowerCase().padStart(32, '0').slice(16)));
  if (traceIds.size > 1) {
    throw new Error(`the spans belong to ${traceIds.size} different traces; a file must hold one trace`);
  }
  const nested = Array.isArray(data[0]);
  return { spans, nested, traceCount: nested ? data.length : 1 };
}
