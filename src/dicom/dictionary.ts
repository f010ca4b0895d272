/**
 * The DICOM data dictionary (PS3.6), taken from dcmjs so we do not keep a copy of our own. Used to
 * find the VR of elements in implicit VR data sets and to name tags in messages.
 */
import { createRequire } from 'node:module';
import { makeTag, tagElement, tagGroup, type Tag } from './tag.js';
import { isVR, type VR } from './vr.js';

/**
 * Dictionary VRs that depend on context. dcmjs uses dcmtk's notation: "xs" = US or SS, "ox" = OB or
 * OW, "lt" = US, SS or OW (LUT data), "up" = UL (an offset), "na" = items and delimiters (no VR).
 */
export type DictionaryVR = VR | 'xs' | 'ox' | 'lt' | 'up' | 'na';

export interface DictionaryEntry {
  readonly tag: Tag;
  readonly vr: DictionaryVR;
  readonly keyword: string;
}

// dcmjs is large (about 20 MB once loaded) and most work never needs the dictionary (explicit VR
// files, worker threads that only sign and encrypt): it is loaded on the first lookup.
interface DcmjsDictionary {
  data: { DicomMetaDictionary: { nameMap: Record<string, { tag: string; vr: string }> } };
}
const requireDcmjs = (): DcmjsDictionary => createRequire(import.meta.url)('dcmjs') as DcmjsDictionary;

let byTag: Map<Tag, DictionaryEntry> | undefined;
let byKeyword: Map<string, DictionaryEntry> | undefined;

function load(): Map<Tag, DictionaryEntry> {
  if (byTag) return byTag;
  const tags = new Map<Tag, DictionaryEntry>();
  const keywords = new Map<string, DictionaryEntry>();
  for (const [keyword, entry] of Object.entries(requireDcmjs().data.DicomMetaDictionary.nameMap)) {
    const m = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/i.exec(entry.tag);
    if (!m) continue;
    const vr = entry.vr;
    if (!(isVR(vr) || vr === 'xs' || vr === 'ox' || vr === 'lt' || vr === 'up' || vr === 'na')) continue;
    const e: DictionaryEntry = { tag: makeTag(parseInt(m[1] as string, 16), parseInt(m[2] as string, 16)), vr, keyword };
    tags.set(e.tag, e);
    keywords.set(keyword, e);
  }
  byTag = tags;
  byKeyword = keywords;
  return tags;
}

/** Repeating groups 50xx (curves) and 60xx (overlays) are listed under their first group. */
function canonical(tag: Tag): Tag {
  const group = tagGroup(tag);
  if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) {
    if ((group & 1) === 0) return makeTag(group & 0xff00, tagElement(tag));
  }
  return tag;
}

export function lookupTag(tag: Tag): DictionaryEntry | undefined {
  const tags = load();
  const found = tags.get(tag) ?? tags.get(canonical(tag));
  if (found) return found;
  if (tagElement(tag) === 0x0000) return { tag, vr: 'UL', keyword: 'GroupLength' };
  return undefined;
}

export function lookupKeyword(keyword: string): DictionaryEntry | undefined {
  load();
  return byKeyword?.get(keyword);
}

export function keywordOf(tag: Tag): string | undefined {
  return lookupTag(tag)?.keyword;
}
