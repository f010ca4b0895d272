/** A data element tag as one unsigned 32-bit number: group in the high 16 bits, element in the low 16. */
export type Tag = number;

export function makeTag(group: number, element: number): Tag {
  return ((group << 16) | element) >>> 0;
}

export function tagGroup(tag: Tag): number {
  return tag >>> 16;
}

export function tagElement(tag: Tag): number {
  return tag & 0xffff;
}

/** "(gggg,eeee)" as in the standard. */
export function formatTag(tag: Tag): string {
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
  return `(${hex(tagGroup(tag))},${hex(tagElement(tag))})`;
}

export function parseTag(text: string): Tag {
  const m = /^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a tag: ${text}`);
  return makeTag(parseInt(m[1] as string, 16), parseInt(m[2] as string, 16));
}

export function isPrivateTag(tag: Tag): boolean {
  return (tagGroup(tag) & 1) === 1;
}

/** Item, Item Delimitation and Sequence Delimitation (PS3.5 §7.5). */
export const ITEM = 0xfffee000;
export const ITEM_DELIMITATION = 0xfffee00d;
export const SEQUENCE_DELIMITATION = 0xfffee0dd;
export const UNDEFINED_LENGTH = 0xffffffff;
