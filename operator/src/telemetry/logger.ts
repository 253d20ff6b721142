import { pino, type Logger } from "pino";

/**
 * The operator's logger: JSON lines on stdout. Secret values never reach it:
 * reconcilers log names and references only, and these paths are redacted in
 * case an object is ever logged whole.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { component: "lifeboat-operator" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["*.data", "*.stringData", "data", "stringData", "*.password", "password", "*.token", "token", "*.secretAccessKey", "*.accessKeySecret"],
      censor: "[redacted]",
    },
    formatters: { level: (label) => ({ level: label }) },
  });
}

export type { Logger };
