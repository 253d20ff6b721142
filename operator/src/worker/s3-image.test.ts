import { describe, expect, it } from "@jest/globals";
import { imageClient, imageObjectKey, MIN_PART_SIZE, partSizeFor } from "./s3-image.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe("imageObjectKey", () => {
  it("joins the prefix and the file name without stray slashes", () => {
    expect(imageObjectKey(undefined, "app-01-disk-2000.raw")).toBe("app-01-disk-2000.raw");
    expect(imageObjectKey("", "app-01-disk-2000.raw")).toBe("app-01-disk-2000.raw");
    expect(imageObjectKey("/", "a.raw")).toBe("a.raw");
    expect(imageObjectKey("/restores/2026/", "a.raw")).toBe("restores/2026/a.raw");
  });
});

describe("partSizeFor", () => {
  it("uses 16 MiB parts up to 10 000 of them, then whole MiB parts that fit 10 000", () => {
    expect(partSizeFor(1)).toBe(MIN_PART_SIZE);
    expect(partSizeFor(10_000 * 16 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(10_000 * 16 * MiB + 1)).toBe(17 * MiB);
    expect(partSizeFor(10_000 * 64 * MiB)).toBe(64 * MiB);
    const big = 2 * 1024 * GiB;
    expect(Math.ceil(big / partSizeFor(big))).toBeLessThanOrEqual(10_000);
  });
});

describe("imageClient", () => {
  it("refuses a plain HTTP endpoint unless useHTTPS is off", () => {
    expect(() => imageClient({ bucket: "b", endpoint: "http://minio:9000", useHTTPS: true }, {})).toThrow("Image bucket endpoint http://minio:9000 is plain HTTP while useHTTPS is set");
    imageClient({ bucket: "b", endpoint: "http://minio:9000", useHTTPS: false }, {}).destroy();
    imageClient({ bucket: "b", endpoint: "https://minio:9000", useHTTPS: true }, {}).destroy();
  });
});
