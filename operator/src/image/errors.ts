/**
 * The one error class of the image writers, so that the restore worker can
 * tell a caller's mistake (a bad layout, pieces out of order, a disk too big
 * for the format) from an I/O failure and report it as a user-facing
 * condition rather than retrying.
 */

/**
 * A disk layout or piece the writer cannot turn into an image, or an image
 * over a format's limit. The message says what is wrong and what to do.
 */
export class ImageFormatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ImageFormatError";
  }
}
