const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const decimal: Record<string, number> = { m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/**
 * Parses a Kubernetes resource quantity ("50Mi", "1.5G", "2e3", "500m")
 * into a number. Throws on anything else, naming the value.
 */
export function parseQuantity(value: string): number {
  const m = /^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/.exec(value.trim());
  if (!m?.[1] || Number.isNaN(Number(m[1]))) throw new Error(`"${value}" is not a quantity such as 50Mi or 1G`);
  const n = Number(m[1]);
  const suffix = m[2] ?? "";
  if (suffix in binary) return n * (binary[suffix] ?? 1);
  if (suffix in decimal) return n * (decimal[suffix] ?? 1);
  return n * 10 ** Number(suffix.slice(1));
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/**
 * Formats a byte count for a person: binary (IEC) units with a space, one
 * decimal below 10 and none above ("512 B", "1.5 GiB", "10 GiB", "954 MiB").
 *
 * This is what the status fields beside each integer `...Bytes` field hold
 * (status.size beside status.sizeBytes), for printer columns. It is a display
 * string, not a Kubernetes quantity: it is rounded, and "10Gi" would read as
 * an exact amount to a program that parses quantities. Programs read the
 * integer field; the space and the "B" make the difference visible.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "-";
  let v = bytes;
  let i = 0;
  while (i < BYTE_UNITS.length - 1 && round(v, i) >= 1024) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || v >= 10 ? v.toFixed(0) : v.toFixed(1)} ${BYTE_UNITS[i] ?? "B"}`;
}

/** v as formatBytes would print it in unit i, so that 1023.7 KiB becomes "1.0 MiB", not "1024 KiB". */
function round(v: number, i: number): number {
  return i === 0 || v >= 10 ? Math.round(v) : Math.round(v * 10) / 10;
}

/** Formats a rate in bytes per second for a person, e.g. "12 MiB/s" (see {@link formatBytes}). */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * Formats a ratio such as dedupRatio with two decimals ("4.21"), the form
 * the BackupVault status has always used, so programs that parse it as a
 * number keep working; an empty vault's ratio (nothing to divide) is "0.00".
 */
export function formatRatio(ratio: number): string {
  return (Number.isFinite(ratio) && ratio > 0 ? ratio : 0).toFixed(2);
}
