import { XMLParser } from "fast-xml-parser";

/**
 * XML encoding and decoding for vim25 SOAP. Requests are written as strings
 * with every value escaped here, in one place; responses are parsed into plain
 * objects and read through the small accessors below, which tolerate the
 * single-element-versus-array ambiguity of XML.
 */

/** A reference to a managed object, e.g. { type: "VirtualMachine", value: "vm-42" }. */
export interface MoRef {
  readonly type: string;
  readonly value: string;
}

/** A parsed XML element: attributes as "@_name", text as "#text", children by local name. */
export type XmlNode = Record<string, unknown>;

// XML 1.0 allows tab, newline, carriage return and everything from U+0020 on
// except the surrogate range halves (a well-formed JS string pairs them) and
// U+FFFE/U+FFFF.
// eslint-disable-next-line no-control-regex
const forbidden = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/**
 * Escapes text for element content and attribute values. Carriage returns,
 * tabs and newlines become character references so that XML's line-end and
 * attribute normalisation cannot change them. Throws on characters XML 1.0
 * cannot carry at all (NUL and most C0 controls), naming only their position.
 */
export function escapeXml(text: string): string {
  const bad = forbidden.exec(text);
  if (bad) throw new Error(`Text contains a control character that XML cannot carry (at position ${bad.index})`);
  let out = "";
  for (const ch of text) {
    switch (ch) {
      case "&": out += "&amp;"; break;
      case "<": out += "&lt;"; break;
      case ">": out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case "'": out += "&apos;"; break;
      case "\r": out += "&#xD;"; break;
      case "\n": out += "&#xA;"; break;
      case "\t": out += "&#x9;"; break;
      default: out += ch;
    }
  }
  return out;
}

/** `<name>value</name>`; nothing at all when the value is undefined (an unset optional field). */
export function el(name: string, value: string | number | boolean | bigint | undefined): string {
  if (value === undefined) return "";
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** One `<name>` element per value (a vim25 array field). */
export function els(name: string, values: readonly (string | number)[] | undefined): string {
  return (values ?? []).map((v) => el(name, v)).join("");
}

/** `<name type="T">value</name>` for a managed object reference. */
export function moRefEl(name: string, ref: MoRef | undefined): string {
  if (!ref) return "";
  return `<${name} type="${escapeXml(ref.type)}">${escapeXml(ref.value)}</${name}>`;
}

/** `<name xsi:type="T">inner</name>` for a polymorphic value; `inner` is already XML. */
export function typedEl(name: string, xsiType: string, innerXml: string): string {
  return `<${name} xsi:type="${escapeXml(xsiType)}">${innerXml}</${name}>`;
}

/** `<name>inner</name>` where `inner` is already XML; nothing when inner is undefined. */
export function rawEl(name: string, innerXml: string | undefined): string {
  if (innerXml === undefined) return "";
  return `<${name}>${innerXml}</${name}>`;
}

/**
 * Re-encodes a parsed element (see {@link parseXml}) as `<name>…</name>`:
 * its xsi:type, a MoRef's type attribute, its text, and its children in the
 * order the server sent them (the WSDL order). An edit of a virtual device
 * must send the whole device back; re-encoding what the server described
 * keeps every field, also those this client does not decode, so the edit
 * changes only what the caller meant to change.
 */
export function nodeXml(name: string, value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => nodeXml(name, v)).join("");
  if (!isNode(value)) return el(name, textOf(value) ?? "");
  const rawType = xsiTypeAttribute(value);
  // The request envelope declares the xsd prefix; vim25 types are in its default namespace.
  const type = rawType?.startsWith("xsd:") ? rawType : xsiType(value);
  const moType = value["@_type"];
  const attributes =
    (type !== undefined ? ` xsi:type="${escapeXml(type)}"` : "") + (typeof moType === "string" ? ` type="${escapeXml(moType)}"` : "");
  const elements = Object.entries(value).filter(([key]) => !key.startsWith("@_") && key !== "#text");
  const text = value["#text"];
  // Text between child elements (an indenting server) is not content.
  const inner = elements.length > 0 ? elements.map(([key, v]) => nodeXml(key, v)).join("") : typeof text === "string" ? escapeXml(text) : "";
  return `<${name}${attributes}>${inner}</${name}>`;
}

const namedEntities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * Decodes the five XML entities and numeric character references (&#34;,
 * &#xD;), which Go's encoder and vCenter emit. Entities a DOCTYPE declares
 * are ignored: a SOAP response has no business defining any.
 */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return codePoint(parseInt(ref.slice(2), 16)) ?? whole;
    if (ref.startsWith("#")) return codePoint(parseInt(ref.slice(1), 10)) ?? whole;
    return namedEntities[ref] ?? whole;
  });
}

function codePoint(n: number): string | undefined {
  return Number.isInteger(n) && n >= 0 && n <= 0x10ffff ? String.fromCodePoint(n) : undefined;
}

const xmlEntityDecoder = {
  setExternalEntities: () => undefined,
  addInputEntities: () => undefined,
  reset: () => undefined,
  setXmlVersion: () => undefined,
  decode: decodeEntities,
};

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  removeNSPrefix: false,
  // Element names lose their namespace prefix ("soapenv:Body" -> "Body");
  // attribute names keep it, so xsi:type and a MoRef's own type stay apart.
  transformTagName: (name: string) => name.slice(name.indexOf(":") + 1),
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  entityDecoder: xmlEntityDecoder,
});

/** Parses an XML document into plain objects (see {@link XmlNode}). */
export function parseXml(text: string): XmlNode {
  const parsed: unknown = parser.parse(text);
  if (!isNode(parsed)) throw new Error("The response is not an XML document");
  return parsed;
}

export function isNode(value: unknown): value is XmlNode {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** All values of a child element, as an array (empty when absent). */
export function children(node: unknown, name: string): unknown[] {
  if (!isNode(node)) return [];
  const v = node[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? (v as unknown[]) : [v];
}

/** The first value of a child element, or undefined. */
export function child(node: unknown, name: string): unknown {
  return children(node, name)[0];
}

/** The text of an element (a string element or one with attributes and "#text"). */
export function textOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (isNode(value)) {
    const t = value["#text"];
    if (typeof t === "string") return t;
    // An element with attributes and no text, e.g. <x xsi:type="xsd:string"/>.
    return Object.keys(value).every((k) => k.startsWith("@_")) ? "" : undefined;
  }
  return undefined;
}

export function text(node: unknown, name: string): string | undefined {
  return textOf(child(node, name));
}

export function texts(node: unknown, name: string): string[] {
  return children(node, name).map(textOf).filter((t): t is string => t !== undefined);
}

/** A numeric child; vim25 longs fit a double for every size this client handles (< 2^53 bytes). */
export function num(node: unknown, name: string): number | undefined {
  const t = text(node, name);
  if (t === undefined || t.trim() === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

export function bool(node: unknown, name: string): boolean | undefined {
  const t = text(node, name)?.trim();
  if (t === undefined || t === "") return undefined;
  return t === "true" || t === "1";
}

/** Reads a MoRef element (`<x type="T">value</x>`). */
export function moRefOf(value: unknown): MoRef | undefined {
  if (!isNode(value)) return undefined;
  const type = value["@_type"];
  const v = value["#text"];
  return typeof type === "string" && typeof v === "string" ? { type, value: v } : undefined;
}

export function moRef(node: unknown, name: string): MoRef | undefined {
  return moRefOf(child(node, name));
}

export function moRefs(node: unknown, name: string): MoRef[] {
  return children(node, name).map(moRefOf).filter((r): r is MoRef => r !== undefined);
}

/** The xsi:type of a polymorphic element, without a namespace prefix. */
export function xsiType(value: unknown): string | undefined {
  const t = xsiTypeAttribute(value);
  return t === undefined ? undefined : t.slice(t.indexOf(":") + 1);
}

/** The xsi:type attribute as written, with any prefix of its value ("xsd:string"). */
function xsiTypeAttribute(value: unknown): string | undefined {
  if (!isNode(value)) return undefined;
  // Usually "xsi:type"; some encoders pick another prefix for the XMLSchema-instance namespace.
  const key = "@_xsi:type" in value ? "@_xsi:type" : Object.keys(value).find((k) => /^@_[^:]+:type$/.test(k));
  const t = key === undefined ? undefined : value[key];
  return typeof t === "string" ? t : undefined;
}

/** Two references name the same object. */
export function sameRef(a: MoRef | undefined, b: MoRef | undefined): boolean {
  return a !== undefined && b !== undefined && a.type === b.type && a.value === b.value;
}
