/**
 * What the front-desk UI asks of the rest of dcmsafe. The screens hold state and render; every piece
 * of work (sign-in, scanning, burning, verifying, importing, saving settings) runs behind this
 * interface, in the same pipelines the CLI uses (desk-services.ts). Component tests give the screens
 * a fake of it.
 */
import type { Config, PacsNode } from '../config/config.js';
import type { OperatorInfo, Role } from '../operators/store.js';
import type { CreateEvent } from '../pipelines/create-media.js';
import type { ImportEvent, ImportReport } from '../pipelines/import-media.js';
import type { MapRow } from '../pipelines/reconcile-map.js';
import type { VerifyEvent } from '../pipelines/verify-media.js';
import type { VerifyReport } from '../pipelines/verify-report.js';

export type SignInResult = { readonly ok: true; readonly operator: OperatorInfo } | { readonly ok: false; readonly reason: string };

export interface SourceStudy {
  readonly studyInstanceUID: string;
  readonly description: string;
  /** DICOM DA form (YYYYMMDD) or ''. */
  readonly date: string;
  readonly modalities: readonly string[];
  readonly instances: number;
  readonly bytes: number;
  readonly files: readonly string[];
}

export interface SourcePatient {
  readonly id: string;
  /** DICOM PN form (FAMILY^GIVEN). */
  readonly name: string;
  readonly birthDate: string;
  readonly sex: string;
  readonly studies: readonly SourceStudy[];
}

export interface SourceScan {
  readonly folder: string;
  readonly patients: readonly SourcePatient[];
  /** Files that are not DICOM instances, or cannot be read: left out, counted. */
  readonly leftOut: number;
}

/** The media the front desk makes: discs as images, a USB stick (mounted folder) or image, a ZIP. */
export type MediumChoice = 'cd' | 'dvd' | 'usb' | 'usb-image' | 'zip';

export interface Protection {
  /** A recipient institution of the configuration (its certificate). */
  readonly recipient?: string;
  /** A generated password for the patient. */
  readonly password: boolean;
}

export interface BurnRequest {
  readonly patient: SourcePatient;
  readonly studies: readonly SourceStudy[];
  readonly medium: MediumChoice;
  readonly protection: Protection;
  /** For 'usb': the mounted stick. Otherwise the image is written under the outbox. */
  readonly stickFolder?: string;
}

export interface BurnOutput {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface BurnResult {
  readonly outputs: readonly BurnOutput[];
  /** Shown once, never stored by dcmsafe. */
  readonly password?: string;
  /** The printable patient letter (password media) or label text, and where it was saved. */
  readonly letterFile?: string;
  readonly labelText: string;
  readonly signedBy?: string;
  /** How to burn the image on a drive (discs only). */
  readonly burnCommand?: string;
}

export interface Estimate {
  readonly bytes: number;
  readonly capacity?: number;
  readonly media: number;
}

export interface ImportRequest {
  readonly media: string;
  readonly password?: string;
  readonly node: string;
  /** Local identity per foreign Patient ID of the medium. */
  readonly map: readonly MapRow[];
  readonly allowUntrusted: boolean;
  readonly confirmDemographics: boolean;
}

export interface EchoResult {
  readonly ok: boolean;
  readonly text: string;
}

export interface DeskServices {
  signIn(user: string, password: string): Promise<SignInResult>;
  signOut(): Promise<void>;
  config(): Config;
  scanSource(folder: string, onProgress?: (done: number, total: number) => void): Promise<SourceScan>;
  estimate(studies: readonly SourceStudy[], medium: MediumChoice, protection: Protection): Estimate;
  burn(request: BurnRequest, onEvent: (event: CreateEvent) => void): Promise<BurnResult>;
  /** Burns an image on the configured drive (xorriso); lines of its output as it goes. */
  burnToDrive(image: string, onLine: (line: string) => void): Promise<void>;
  verify(media: string, password: string | undefined, onEvent: (event: VerifyEvent) => void): Promise<VerifyReport>;
  importMedia(request: ImportRequest, onEvent: (event: ImportEvent | VerifyEvent) => void): Promise<ImportReport>;
  /** The configuration's reconciliation map, if it names one. */
  reconcileMap(): Promise<readonly MapRow[]>;
  echo(node: PacsNode): Promise<EchoResult>;
  listOperators(): Promise<readonly OperatorInfo[]>;
  addOperator(user: string, role: Role, password: string): Promise<void>;
  removeOperator(user: string): Promise<void>;
  saveConfig(next: Config): Promise<void>;
}

export type { Config, PacsNode, OperatorInfo, Role, CreateEvent, ImportEvent, ImportReport, MapRow, VerifyEvent, VerifyReport };
