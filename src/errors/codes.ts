/**
 * The one table of error codes. Every DcmsafeError carries one of these codes; the README lists them
 * (a test keeps the two in step). Codes are stable: tools and scripts match on them.
 *
 * `fault` says who is at fault: the caller's input (`input`), the medium being read (`media`), a
 * network peer (`peer`), the command line (`usage`) or dcmsafe itself (`internal`).
 */
export type Fault = 'input' | 'media' | 'peer' | 'usage' | 'internal';

export interface ErrorCodeInfo {
  readonly fault: Fault;
  readonly summary: string;
}

export const ERROR_CODES = {
  // Part 10 reading (PS3.10 §7)
  PART10_TRUNCATED: { fault: 'input', summary: 'The file ends inside a data element or its header.' },
  PART10_NOT_DICOM: { fault: 'input', summary: 'The bytes are not a DICOM file, data set or ACR-NEMA stream.' },
  PART10_BAD_META: { fault: 'input', summary: 'The File Meta Information (group 0002) is missing required elements or is malformed.' },
  PART10_BAD_ELEMENT: { fault: 'input', summary: 'A data element header is invalid (bad VR, impossible length, tag out of order).' },
  PART10_BAD_SEQUENCE: { fault: 'input', summary: 'A sequence or item is malformed (missing delimiter, item tag expected).' },
  PART10_LIMIT: { fault: 'input', summary: 'A safety limit was exceeded (header size, nesting depth, element count).' },
  PART10_UNSUPPORTED_SYNTAX: { fault: 'input', summary: 'The transfer syntax is unknown or cannot be read.' },
  PART10_INFLATE: { fault: 'input', summary: 'The deflated data set could not be inflated.' },
  // Pixel data and transcoding
  PIXEL_FRAGMENTS: { fault: 'input', summary: 'Encapsulated pixel data is malformed (fragments, offset table, frame count).' },
  PIXEL_DECODE: { fault: 'input', summary: 'A compressed frame could not be decoded.' },
  PIXEL_ATTRIBUTES: { fault: 'input', summary: 'Image pixel attributes (Rows, Columns, Bits Allocated...) are missing or inconsistent.' },
  // File IDs (PS3.10 §8)
  FILE_ID_INVALID: { fault: 'input', summary: 'A File ID does not follow PS3.10 §8 (1-8 components of 1-8 characters A-Z 0-9 _).' },
  FILE_ID_EXHAUSTED: { fault: 'input', summary: 'No more conformant File IDs can be generated at this level.' },
  // DICOMDIR (PS3.3 Annex F)
  DICOMDIR_INVALID: { fault: 'input', summary: 'The DICOMDIR is not a Basic Directory or cannot be parsed.' },
  DICOMDIR_OFFSET: { fault: 'input', summary: 'A DICOMDIR record offset points outside the file or not at a directory record.' },
  DICOMDIR_LOOP: { fault: 'input', summary: 'DICOMDIR record offsets form a loop.' },
  // File-set planning (PS3.11)
  FILESET_PATIENT_CONFLICT: { fault: 'input', summary: 'One Patient ID is used with different patient names or birth dates.' },
  FILESET_INSTANCE_CONFLICT: { fault: 'input', summary: 'Files share a SOP Instance UID but their attributes disagree.' },
  FILESET_PROFILE_REFUSED: { fault: 'input', summary: 'Some inputs cannot be placed under the chosen application profile.' },
  FILESET_INPUT_INVALID: { fault: 'input', summary: 'Some DICOM inputs cannot be read (truncated or malformed); --skip-invalid leaves them out.' },
  FILESET_EMPTY: { fault: 'input', summary: 'No DICOM instance among the inputs can be placed on media.' },
  FILESET_ID_INVALID: { fault: 'usage', summary: 'The File-set ID is longer than 16 characters or uses characters outside A-Z 0-9 _ and space.' },
  PROFILE_UNKNOWN: { fault: 'usage', summary: 'The application profile is not known.' },
  DEIDENTIFY_BURNED_IN: { fault: 'input', summary: 'Some instances may have identification burned into the pixel data, which de-identification does not clean; --accept-burned-in puts them on the media anyway.' },
  // Secure DICOM Files: CMS (PS3.10 §7.4, PS3.15 Annex D.1, RFC 5652)
  CMS_NOT_SECURE: { fault: 'input', summary: 'The file is not a CMS EnvelopedData (not a Secure DICOM File).' },
  CMS_MALFORMED: { fault: 'input', summary: 'The CMS structure is malformed (bad ASN.1, wrong content types, inconsistent lengths).' },
  CMS_TRUNCATED: { fault: 'input', summary: 'The CMS structure ends before its declared length.' },
  CMS_UNSUPPORTED: { fault: 'input', summary: 'An algorithm or structure in the CMS file is not supported.' },
  CMS_NO_RECIPIENT: { fault: 'input', summary: 'None of the given keys or passwords belongs to a recipient of the file.' },
  CMS_WRONG_PASSWORD: { fault: 'input', summary: 'The password does not open the file (key unwrap check failed).' },
  CMS_WRONG_KEY: { fault: 'input', summary: 'The private key does not open the file (key transport decryption failed).' },
  CMS_DECRYPT_FAILED: { fault: 'input', summary: 'The encrypted content does not decrypt (bad padding): altered or truncated.' },
  CMS_CONTENT_LENGTH: { fault: 'internal', summary: 'The content given to the CMS writer is not as long as planned.' },
  PASSWORD_INVALID: { fault: 'usage', summary: 'A password uses characters outside printable US-ASCII (ISO-IR 6) or is empty.' },
  // Keys and certificates
  KEY_UNREADABLE: { fault: 'input', summary: 'A private key cannot be read (format unknown or damaged).' },
  KEY_PASSPHRASE: { fault: 'input', summary: 'A private key or PKCS#12 file needs a passphrase, or the passphrase is wrong.' },
  KEY_MISMATCH: { fault: 'usage', summary: 'The private key does not belong to the certificate.' },
  CERT_UNREADABLE: { fault: 'input', summary: 'A certificate or CRL cannot be read.' },
  SECRET_SOURCE: { fault: 'usage', summary: 'A passphrase or password source (file, environment variable, prompt) cannot be read.' },
  // Media images (PS3.12): ISO 9660, FAT, ZIP, USB sticks
  ISO9660_NAME: { fault: 'usage', summary: 'A name ISO 9660 Level 1 cannot hold (8.3 upper-case d-characters), a duplicate name, or a volume identifier that is not d-characters.' },
  ISO9660_DEPTH: { fault: 'usage', summary: 'More than 8 directory levels, or more than 65 535 directories, on an ISO 9660 image.' },
  ISO9660_FILE_SIZE: { fault: 'usage', summary: 'A file too large for one ISO 9660 Level 1 extent (4 GiB).' },
  ISO9660_INVALID: { fault: 'media', summary: 'The image is not ISO 9660 or its volume descriptors or directories are malformed.' },
  ISO9660_EXTENT: { fault: 'media', summary: 'An ISO 9660 extent lies outside the image, is absurdly large, directories loop or overlap, or the entry or depth limit is exceeded.' },
  FAT_NAME: { fault: 'usage', summary: 'A file or folder name that FAT 8.3 names cannot hold.' },
  FAT_CAPACITY: { fault: 'usage', summary: 'The files do not fit the FAT32 image size, or a file is 4 GiB or larger.' },
  FAT_INVALID: { fault: 'media', summary: 'Not a FAT volume, or its boot sector, FAT or directories are malformed.' },
  FAT_CHAIN: { fault: 'media', summary: 'A FAT cluster chain is out of range, loops or is cross-linked.' },
  ZIP_INVALID: { fault: 'media', summary: 'Not a ZIP file, or a truncated or malformed one (headers, sizes, CRC, methods, colliding names).' },
  ZIP_UNSAFE_NAME: { fault: 'media', summary: 'A ZIP entry name could escape the extraction root (absolute, .., backslash, drive letter, NUL or control character).' },
  ZIP_BOMB: { fault: 'media', summary: 'Declared or actual ZIP sizes, entry count or compression ratio beyond the limits, or overlapping entries (a zip bomb).' },
  MEDIA_CAPACITY: { fault: 'usage', summary: 'The File-set does not fit the medium (a single file larger than the medium, or no free space).' },
  USB_HAS_FILESET: { fault: 'usage', summary: 'The USB stick already holds a DICOM File-set (--replace replaces it).' },
  USB_READBACK: { fault: 'media', summary: 'A file read back from the USB stick differs from what was written.' },
  MEDIA_UNREADABLE: { fault: 'media', summary: 'The medium cannot be read at all (nothing on it could be opened or decrypted).' },
  // DICOM network (PS3.8 upper layer, PS3.7 DIMSE, PS3.15 Annex B TLS)
  NET_CONNECT: { fault: 'peer', summary: 'The peer cannot be reached, or the connection dropped.' },
  NET_TLS: { fault: 'peer', summary: 'The TLS handshake failed: unknown CA, name mismatch, or a protocol version below TLS 1.2.' },
  NET_ASSOCIATION: { fault: 'peer', summary: 'The association was rejected or aborted, or no presentation context was accepted.' },
  NET_PROTOCOL: { fault: 'peer', summary: 'The peer sent a malformed PDU or DIMSE message.' },
  NET_TIMEOUT: { fault: 'peer', summary: 'The peer did not answer in time.' },
  IMPORT_SECURITY_ALERT: { fault: 'media', summary: 'A file no longer passed verification while it was sent; the association was aborted before its last fragment.' },
  // Import: reconciliation (IHE IRWF)
  RECONCILE_CHARSET: { fault: 'input', summary: "A local value cannot be written in the instance's character set, and the instance holds non-ASCII text." },
  RECONCILE_CONFLICT: { fault: 'usage', summary: 'A local value for reconciliation is missing, empty or invalid for its VR.' },
  // Configuration, operators, audit trail (PS3.15 A.5, IHE ATNA)
  CONFIG_NOT_FOUND: { fault: 'usage', summary: 'The configuration file named (--config, DCMSAFE_CONFIG) does not exist or cannot be read.' },
  CONFIG_INVALID: { fault: 'usage', summary: 'The configuration file is not valid: the message names the key and what is wrong.' },
  OPERATOR_UNKNOWN: { fault: 'usage', summary: 'No operator account of that name.' },
  OPERATOR_EXISTS: { fault: 'usage', summary: 'An operator account of that name exists already.' },
  OPERATOR_AUTH_FAILED: { fault: 'usage', summary: 'Sign-in failed: unknown operator or wrong password (the message does not say which).' },
  OPERATOR_LOCKED: { fault: 'usage', summary: 'The operator account is locked after repeated failed sign-ins; an admin resets it with operators passwd.' },
  OPERATOR_PASSWORD_WEAK: { fault: 'usage', summary: 'The new password is too short or too common.' },
  AUDIT_LOG_BROKEN: { fault: 'input', summary: 'The audit log chain is broken: a record was removed, edited or reordered (the message names the line).' },
  AUDIT_SINK: { fault: 'peer', summary: 'An audit message could not be written or sent (it waits in the spool when the repository is unreachable).' },
  // Command line and output
  USAGE: { fault: 'usage', summary: 'The command line is wrong.' },
  NOT_INTERACTIVE: { fault: 'usage', summary: 'dcmsafe ui needs an interactive terminal; scripts use the other commands.' },
  BURN_FAILED: { fault: 'media', summary: 'Burning an image on the optical drive failed (xorriso\'s message is given).' },
  OUTPUT_NOT_EMPTY: { fault: 'usage', summary: 'The output folder exists and is not empty.' },
  INPUT_NOT_FOUND: { fault: 'input', summary: 'An input path does not exist or cannot be read.' },
  IO: { fault: 'media', summary: 'Reading or writing the file system failed.' },
  INTERNAL: { fault: 'internal', summary: 'An internal error: a bug in dcmsafe.' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Exit codes (docs/architecture.md): 0 ok, 1 verification failed, 2 usage, 3 bad input, 4 network, 5 internal. */
export const EXIT = {
  OK: 0,
  VERIFICATION_FAILED: 1,
  USAGE: 2,
  INPUT: 3,
  NETWORK: 4,
  INTERNAL: 5,
} as const;

export function exitCodeForFault(fault: Fault): number {
  switch (fault) {
    case 'usage':
      return EXIT.USAGE;
    case 'input':
    case 'media':
      return EXIT.INPUT;
    case 'peer':
      return EXIT.NETWORK;
    case 'internal':
      return EXIT.INTERNAL;
  }
}
