import { describe, expect, it } from "@jest/globals";
import { children, decodeEntities, el, escapeXml, moRef, moRefEl, nodeXml, parseXml, text, xsiType } from "./xml.js";

describe("escapeXml", () => {
  it("escapes markup characters and keeps every other printable and non-ASCII character", () => {
    const password = "`^~=;!/([]{}@$\\&#%+ <>\"'パスワード";
    const escaped = escapeXml(password);
    expect(escaped).toBe("`^~=;!/([]{}@$\\&amp;#%+ &lt;&gt;&quot;&apos;パスワード");
    // What we write, an XML parser reads back unchanged.
    const doc = parseXml(`<r>${el("password", password)}</r>`);
    expect(text(doc.r, "password")).toBe(password);
  });

  it("protects carriage returns, newlines and tabs from XML normalisation", () => {
    const value = "a\r\nb\tc";
    expect(escapeXml(value)).toBe("a&#xD;&#xA;b&#x9;c");
    expect(text(parseXml(`<r>${el("v", value)}</r>`).r, "v")).toBe(value);
  });

  it("refuses control characters XML cannot carry, without echoing the text", () => {
    expect(() => escapeXml("sec\u0001ret")).toThrow("position 3");
    expect(() => escapeXml("sec\u0001ret")).not.toThrow("secret");
  });

  it("writes managed object references with their type", () => {
    expect(moRefEl("_this", { type: "VirtualMachine", value: "vm-1&2" })).toBe('<_this type="VirtualMachine">vm-1&amp;2</_this>');
  });

  it("omits unset optional elements", () => {
    expect(el("description", undefined)).toBe("");
  });
});

describe("parseXml", () => {
  it("decodes numeric character references as Go's encoder writes them", () => {
    expect(decodeEntities("&#34;a&#39; &#xD;&amp;#65;")).toBe("\"a' \r&#65;");
    const doc = parseXml('<r><name>VM &#34;one&#34; &amp; two</name></r>');
    expect(text(doc.r, "name")).toBe('VM "one" & two');
  });

  it("ignores entities a DOCTYPE declares", () => {
    const doc = parseXml('<!DOCTYPE r [<!ENTITY x "expanded">]><r><v>&x;</v></r>');
    expect(text(doc.r, "v")).toBe("&x;");
  });

  it("reads references, xsi:type, namespaced tags and repeated elements", () => {
    const doc = parseXml(
      '<soapenv:Envelope xmlns:soapenv="e"><soapenv:Body><R xmlns="urn:vim25"><returnval>' +
        '<obj type="VirtualMachine">vm-7</obj><val xsi:type="ManagedObjectReference" type="Task">task-1</val>' +
        "<x>1</x><x>2</x></returnval></R></soapenv:Body></soapenv:Envelope>",
    );
    const rv = (((doc.Envelope as Record<string, unknown>).Body as Record<string, unknown>).R as Record<string, unknown>).returnval;
    expect(moRef(rv, "obj")).toEqual({ type: "VirtualMachine", value: "vm-7" });
    expect(moRef(rv, "val")).toEqual({ type: "Task", value: "task-1" });
    expect(xsiType((rv as Record<string, unknown>).val)).toBe("ManagedObjectReference");
    expect(children(rv, "x")).toEqual(["1", "2"]);
    expect(children(rv, "missing")).toEqual([]);
  });

  it("finds xsi:type under another prefix for the XMLSchema-instance namespace", () => {
    const doc = parseXml('<r><d XMLSchema-instance:type="InvalidLogin"/></r>');
    expect(xsiType(doc.r && (doc.r as Record<string, unknown>).d)).toBe("InvalidLogin");
  });
});

describe("nodeXml", () => {
  it("writes a parsed element back as the server sent it: order, xsi:type, references, escaped text, repeated children", () => {
    const sent =
      '<device xsi:type="VirtualE1000e"><key>4000</key><deviceInfo><label>NIC 1</label><summary>a &amp; &lt;b&gt;</summary></deviceInfo>' +
      '<backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName><network type="Network">network-7</network></backing>' +
      "<dynamicProperty><name>x</name></dynamicProperty><dynamicProperty><name>y</name></dynamicProperty>" +
      '<val xsi:type="xsd:string">s</val><empty></empty></device>';
    const doc = parseXml(`<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">${sent}</r>`);
    expect(nodeXml("device", (doc.r as Record<string, unknown>).device)).toBe(sent);
  });

  it("writes xsi:type under the xsi prefix whatever prefix the server used, and drops whitespace between elements", () => {
    const doc = parseXml('<r><d XMLSchema-instance:type="vim25:VirtualVmxnet3">\n  <key>1</key>\n</d></r>');
    expect(nodeXml("device", (doc.r as Record<string, unknown>).d)).toBe('<device xsi:type="VirtualVmxnet3"><key>1</key></device>');
  });
});
