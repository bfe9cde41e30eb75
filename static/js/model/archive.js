// Lens's "Archive trace": the trace's spans, as stored, marked for the archive. Pure, so the
// model tests run it in Node.

/** Tag Lens puts on the root span of an archived trace. */
export const ARCHIVED_TAG = 'zipkin.archived';

/**
 * Adds `zipkin.archived=true` to the root span (the first span without a parent) and
 * returns the spans. A trace whose root span never arrived gets the tag on its earliest
 * span instead, so an archived copy is always recognisable (Lens leaves such a trace
 * untagged).
 */
export function markArchived(spans) {
  if (!Array.isArray(spans) || spans.length === 0) return spans;
  const earliest = (a, b) => ((b.timestamp ?? Infinity) < (a.timestamp ?? Infinity) ? b : a);
  const root = spans.find((span) => !span.parentId) || spans.reduce(earliest);
  root.tags = { ...(root.tags || {}), [ARCHIVED_TAG]: 'true' };
  return spans;
}
