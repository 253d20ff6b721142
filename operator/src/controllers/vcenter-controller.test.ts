import { describe, expect, it } from "@jest/globals";
import { certificateCondition } from "./vcenter-controller.js";

describe("certificateCondition", () => {
  it("says verification is off when insecureSkipVerify is set", () => {
    const c = certificateCondition({ insecureSkipVerify: true });
    expect(c).toMatchObject({ type: "CertificateVerified", status: "False", reason: "InsecureSkipVerify" });
    expect(c.message).toContain("spec.tls.caSecretRef or spec.tls.thumbprint");
  });

  it("says how the certificate is verified otherwise, the system CAs by default", () => {
    expect(certificateCondition(undefined)).toMatchObject({ status: "True", reason: "SystemCAs" });
    expect(certificateCondition({})).toMatchObject({ status: "True", reason: "SystemCAs" });
    expect(certificateCondition({ insecureSkipVerify: false })).toMatchObject({ status: "True", reason: "SystemCAs" });
    expect(certificateCondition({ thumbprint: "AA:BB" })).toMatchObject({ status: "True", reason: "Thumbprint" });
    expect(certificateCondition({ caSecretRef: { name: "vc-ca" } })).toMatchObject({ status: "True", reason: "CASecret" });
  });
});
