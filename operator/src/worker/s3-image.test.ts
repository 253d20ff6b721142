import { describe, expect, it } from "@jest/globals";
import { imageClient, imageObjectKey } from "./s3-image.js";

describe("imageObjectKey", () => {
  it("joins the prefix and the file name without stray slashes", () => {
    expect(imageObjectKey(undefined, "app-01-disk-2000.raw")).toBe("app-01-disk-2000.raw");
    expect(imageObjectKey("", "app-01-disk-2000.raw")).toBe("app-01-disk-2000.raw");
    expect(imageObjectKey("/", "a.raw")).toBe("a.raw");
    expect(imageObjectKey("/restores/2026/", "a.raw")).toBe("restores/2026/a.raw");
  });
});

describe("imageClient", () => {
  it("refuses a plain HTTP endpoint unless useHTTPS is off", () => {
    expect(() => imageClient({ bucket: "b", endpoint: "http://minio:9000", useHTTPS: true }, {})).toThrow("Image bucket endpoint http://minio:9000 is plain HTTP while useHTTPS is set");
    imageClient({ bucket: "b", endpoint: "http://minio:9000", useHTTPS: false }, {}).destroy();
    imageClient({ bucket: "b", endpoint: "https://minio:9000", useHTTPS: true }, {}).destroy();
  });
});
