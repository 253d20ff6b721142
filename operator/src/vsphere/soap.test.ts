import { describe, expect, it } from "@jest/globals";
import { AuthenticationFailedError, FaultError, NotAuthenticatedError, ObjectNotFoundError, VsphereError } from "./errors.js";
import { classifyNetworkError, decodeResponse, normalizeThumbprint, sdkUrl } from "./soap.js";
import { CertificateMismatchError, UnreachableError } from "./errors.js";

const envelope = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
  `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;

describe("decodeResponse", () => {
  it("returns the method's response element", () => {
    const res = decodeResponse("CurrentTime", 200, envelope('<CurrentTimeResponse xmlns="urn:vim25"><returnval>2025-01-01T00:00:00Z</returnval></CurrentTimeResponse>'));
    expect(res.returnval).toBe("2025-01-01T00:00:00Z");
  });

  it("accepts a void method's empty response", () => {
    expect(decodeResponse("Logout", 200, envelope('<LogoutResponse xmlns="urn:vim25"></LogoutResponse>')).returnval).toBeUndefined();
  });

  it("rejects a response for another method", () => {
    expect(() => decodeResponse("Logout", 200, envelope('<LoginResponse xmlns="urn:vim25"></LoginResponse>'))).toThrow(/no LogoutResponse/);
  });

  it("maps InvalidLogin to AuthenticationFailedError", () => {
    const xml = envelope(
      '<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Cannot complete login due to an incorrect user name or password.</faultstring>' +
        '<detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault>',
    );
    expect(() => decodeResponse("Login", 500, xml)).toThrow(AuthenticationFailedError);
  });

  it("maps NotAuthenticated and ManagedObjectNotFound to their classes, and others to FaultError with the name", () => {
    const fault = (name: string, inner = "") =>
      envelope(`<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>msg</faultstring><detail><${name}Fault xmlns="urn:vim25" xsi:type="${name}">${inner}</${name}Fault></detail></soapenv:Fault>`);
    expect(() => decodeResponse("X", 500, fault("NotAuthenticated"))).toThrow(NotAuthenticatedError);
    expect(() => decodeResponse("X", 500, fault("ManagedObjectNotFound"))).toThrow(ObjectNotFoundError);
    try {
      decodeResponse("QueryChangedDiskAreas", 500, fault("InvalidArgument", "<invalidProperty>changeId</invalidProperty>"));
      throw new Error("no fault");
    } catch (err) {
      expect(err).toBeInstanceOf(FaultError);
      expect((err as FaultError).faultName).toBe("InvalidArgument");
      expect((err as FaultError).message).toContain("invalid property changeId");
    }
  });

  it("names the element when a fault has no xsi:type", () => {
    const xml = envelope('<soapenv:Fault><faultcode>c</faultcode><faultstring>s</faultstring><detail><FileFaultFault xmlns="urn:vim25"><file>[ds] x</file></FileFaultFault></detail></soapenv:Fault>');
    try {
      decodeResponse("X", 500, xml);
    } catch (err) {
      expect((err as FaultError).faultName).toBe("FileFault");
      expect((err as FaultError).message).toContain("file [ds] x");
    }
  });

  it("rejects a body that is not a SOAP envelope with the status", () => {
    // The XML parser is lenient: plain text parses, and fails for want of a SOAP body.
    expect(() => decodeResponse("X", 500, "Internal Server Error")).toThrow(/HTTP 500 without a SOAP body/);
  });

  it("rejects XML without a SOAP body as a plain error when the status is not a gateway's", () => {
    const answer = () => decodeResponse("X", 500, "<html><body>Internal Server Error</body></html>");
    expect(answer).toThrow(VsphereError);
    expect(answer).not.toThrow(UnreachableError);
  });

  it("takes a proxy's 502, 503 or 504 without SOAP for an unreachable service", () => {
    // vCenter's reverse proxy answers 503 while vpxd starts; callers wait that out as they do a refused connection.
    expect(() => decodeResponse("Login", 503, "Service Unavailable")).toThrow(UnreachableError);
    expect(() => decodeResponse("Login", 503, "")).toThrow(UnreachableError);
    expect(() => decodeResponse("Login", 502, "<html><body>Bad Gateway</body></html>")).toThrow(UnreachableError);
    expect(() => decodeResponse("Login", 504, "<html><body>Gateway Timeout</body></html>")).toThrow(/HTTP 504 without a SOAP body: the vCenter service behind its proxy does not answer/);
  });

  it("still decodes a SOAP fault sent with 503: the service answered", () => {
    // FaultError and UnreachableError are siblings: a FaultError is not taken for an outage.
    const xml = envelope('<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>busy</faultstring><detail><SystemErrorFault xsi:type="SystemError"></SystemErrorFault></detail></soapenv:Fault>');
    expect(() => decodeResponse("X", 503, xml)).toThrow(FaultError);
  });
});

describe("addresses and thumbprints", () => {
  it("builds the SDK URL from a host, host:port or URL", () => {
    expect(sdkUrl("vc.example.com").toString()).toBe("https://vc.example.com/sdk");
    expect(sdkUrl("10.0.0.5:8443").toString()).toBe("https://10.0.0.5:8443/sdk");
    expect(sdkUrl("https://user:pw@vc/sdk").toString()).toBe("https://vc/sdk");
    expect(() => sdkUrl("http://vc")).toThrow(VsphereError);
  });

  it("normalises SHA-256 thumbprints and refuses anything else", () => {
    const hex = "ab".repeat(32);
    expect(normalizeThumbprint(hex)).toBe(Array(32).fill("AB").join(":"));
    expect(normalizeThumbprint(Array(32).fill("ab").join(":"))).toBe(Array(32).fill("AB").join(":"));
    expect(() => normalizeThumbprint("ab".repeat(20))).toThrow(/SHA-256/); // a SHA-1 thumbprint
  });
});

describe("classifyNetworkError", () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });
  it("maps refused connections and DNS failures to UnreachableError", () => {
    expect(classifyNetworkError(withCode("ECONNREFUSED"), "x")).toBeInstanceOf(UnreachableError);
    expect(classifyNetworkError(withCode("ENOTFOUND"), "x")).toBeInstanceOf(UnreachableError);
  });
  it("maps certificate verification failures to CertificateMismatchError", () => {
    expect(classifyNetworkError(withCode("DEPTH_ZERO_SELF_SIGNED_CERT"), "x")).toBeInstanceOf(CertificateMismatchError);
    expect(classifyNetworkError(withCode("ERR_TLS_CERT_ALTNAME_INVALID"), "x")).toBeInstanceOf(CertificateMismatchError);
  });
});
