/**
 * PS3.15 A.5 audit messages as XML that validates against the DICOM Audit Message Schema (A.5.1,
 * src/audit/schema/dicom-audit-message.rnc), one function per event of A.5.3:
 *   Application Activity (A.5.3.1), Begin Transferring DICOM Instances (A.5.3.3), Data Export (A.5.3.4),
 *   Data Import (A.5.3.5), DICOM Instances Transferred (A.5.3.7), Security Alert (A.5.3.11),
 *   User Authentication (A.5.3.12).
 * Pure functions: the context (clock, operator, host) comes in, a UTF-8 string goes out. Every value is
 * XML-escaped; characters XML 1.0 cannot carry (C0 controls, lone surrogates) become U+FFFD. The API has
 * no field for a password or a key, and must not get one: audit messages leave the machine.
 *
 * Conventions (A.5.2): exactly one ActiveParticipant is the requestor (UserIsRequestor="true"): the
 * operator, except in User Authentication, where it is the person who logs in or out. The process is
 * UserID = process ID, UserName = program name and version, AlternativeUserID = "AETITLES=..." (A.5.2.1,
 * A.5.2.2). EventDateTime carries the local zone offset (A.5.2.5). The schema requires a
 * ParticipantObjectName (or a Query) on every participant object; where no name is known (studies,
 * patients without a name) it is written empty rather than invented.
 */
import { isoWithOffset } from '../util/clock.js';
import { isIP } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** EventOutcomeIndicator (A.5.1): success, minor failure, serious failure, major failure. */
export type Outcome = 0 | 4 | 8 | 12;

export interface AuditContext {
  /** EventDateTime, written with the local time-zone offset (A.5.2.5). */
  readonly when: Date;
  /** The person running dcmsafe: the requestor participant. */
  readonly operator: { readonly userId: string; readonly name?: string };
  readonly application: { readonly name: string; readonly version: string; readonly processId: number; readonly host: string; readonly aeTitle?: string };
  /** AuditSourceIdentification/@AuditSourceID (the institution, else the host name). */
  readonly auditSourceId: string;
  readonly enterpriseSiteId?: string;
}

export interface PatientRef {
  readonly id: string;
  readonly name?: string;
}

export interface StudyRef {
  readonly studyInstanceUID: string;
  readonly patientId?: string;
  readonly accessionNumber?: string;
  readonly sopClasses?: ReadonlyArray<{ readonly uid: string; readonly instances: number }>;
  readonly encrypted?: boolean;
}

export type MediaKind = 'cd' | 'dvd' | 'bd' | 'usb' | 'zip' | 'folder';

export interface MediaRef {
  readonly kind: MediaKind;
  /** File-set UID or volume id: the machine-readable identification (AlternativeUserID, A.5.2.2). */
  readonly identifier: string;
  /** What a person reads: volume label, output path. A folder's path becomes a file: URL. */
  readonly label?: string;
}

export interface PeerRef {
  readonly host: string;
  readonly port?: number;
  readonly aeTitle: string;
}

export type AuditKind = 'export' | 'import' | 'begin-transferring' | 'instances-transferred' | 'security-alert' | 'user-authentication' | 'application-activity';

export type SecurityAlertKind = 'node-authentication' | 'user-authentication' | 'verification' | 'untrusted-signer' | 'software-configuration' | 'use-of-restricted-function';

// ---------------------------------------------------------------------------------------------------
// Codes (PS3.16 DCM; RFC 3881 values as the A.5.3 tables spell them)

interface Code {
  readonly code: string;
  readonly scheme: string;
  readonly meaning: string;
}

const dcm = (code: string, meaning: string): Code => ({ code, scheme: 'DCM', meaning });
/** Private coding scheme (PS3.16 §8: designators beginning "99"), for what no DICOM code names. */
const PRIVATE_SCHEME = '99DCMSAFE';

/** CID 400 Audit Event ID. */
const EVENT_ID = {
  applicationActivity: dcm('110100', 'Application Activity'),
  beginTransferring: dcm('110102', 'Begin Transferring DICOM Instances'),
  instancesTransferred: dcm('110104', 'DICOM Instances Transferred'),
  export: dcm('110106', 'Export'),
  import: dcm('110107', 'Import'),
  securityAlert: dcm('110113', 'Security Alert'),
  userAuthentication: dcm('110114', 'User Authentication'),
} as const;

/** CID 401 Audit Event Type Code (Application Activity, User Authentication). */
const EVENT_TYPE = {
  applicationStart: dcm('110120', 'Application Start'),
  applicationStop: dcm('110121', 'Application Stop'),
  login: dcm('110122', 'Login'),
  logout: dcm('110123', 'Logout'),
} as const;

/**
 * CID 403 Security Alert Type Code (extensible) for each alert, followed by a private code naming the
 * alert exactly: three alerts share 110143, and a reviewer or a filter should still tell them apart.
 * There is no CID 403 code for a failed signature or integrity check, nor for an untrusted signer: both
 * are decisions about the authenticity of data, hence 110143 Authentication Decision.
 */
const SECURITY_ALERT: Readonly<Record<SecurityAlertKind, readonly [Code, Code]>> = {
  'node-authentication': [dcm('110126', 'Node Authentication'), { code: 'node-authentication', scheme: PRIVATE_SCHEME, meaning: 'Node authentication' }],
  'user-authentication': [dcm('110143', 'Authentication Decision'), { code: 'user-authentication', scheme: PRIVATE_SCHEME, meaning: 'User authentication' }],
  verification: [dcm('110143', 'Authentication Decision'), { code: 'verification', scheme: PRIVATE_SCHEME, meaning: 'Signature or integrity verification' }],
  'untrusted-signer': [dcm('110143', 'Authentication Decision'), { code: 'untrusted-signer', scheme: PRIVATE_SCHEME, meaning: 'Untrusted signer' }],
  'software-configuration': [dcm('110131', 'Software Configuration'), { code: 'software-configuration', scheme: PRIVATE_SCHEME, meaning: 'Software configuration' }],
  'use-of-restricted-function': [dcm('110132', 'Use of Restricted Function'), { code: 'use-of-restricted-function', scheme: PRIVATE_SCHEME, meaning: 'Use of restricted function' }],
};

/** CID 402 Audit Active Participant Role ID Code. */
const ROLE = {
  application: dcm('110150', 'Application'),
  applicationLauncher: dcm('110151', 'Application Launcher'),
  destination: dcm('110152', 'Destination Role ID'),
  source: dcm('110153', 'Source Role ID'),
  destinationMedia: dcm('110154', 'Destination Media'),
  sourceMedia: dcm('110155', 'Source Media'),
} as const;

/** ParticipantObjectIDTypeCode: A.5.1.2.4 (RFC 3881 values) and CID 404. */
const OBJECT_ID_TYPE = {
  patientNumber: { code: '2', scheme: 'RFC-3881', meaning: 'Patient Number' },
  userIdentifier: { code: '11', scheme: 'RFC-3881', meaning: 'User Identifier' },
  uri: { code: '12', scheme: 'RFC-3881', meaning: 'URI' },
  studyInstanceUID: dcm('110180', 'Study Instance UID'),
  nodeId: dcm('110182', 'Node ID'),
} as const satisfies Record<string, Code>;

/**
 * CID 405 Media Type Code. ZIP goes as 110031 Email (a ZIP file set is what is sent by e-mail); a folder
 * is named by its file: URL, hence 110037 URI. CID 405 has no code for Blu-ray; it is extensible, so BD
 * gets a private code rather than the code of another medium (a BD written down as a DVD would mislead).
 */
const MEDIA_TYPE: Readonly<Record<MediaKind, Code>> = {
  cd: dcm('110032', 'CD'),
  dvd: dcm('110033', 'DVD'),
  bd: { code: 'BD', scheme: PRIVATE_SCHEME, meaning: 'Blu-ray Disc' },
  usb: dcm('110030', 'USB Disk Emulation'),
  zip: dcm('110031', 'Email'),
  folder: dcm('110037', 'URI'),
};

/** A.5.1.2.1 Audit Source Type Code: 4, application server process. */
const AUDIT_SOURCE_TYPE = '4';

// ---------------------------------------------------------------------------------------------------
// The messages

type Action = 'C' | 'R' | 'U' | 'D' | 'E';

/** 110106 Export (A.5.3.4): the operator and dcmsafe export (Source Role ID) to a medium (Destination Media). */
export function exportMessage(ctx: AuditContext, e: { outcome: Outcome; outcomeDescription?: string; media: MediaRef; recipients?: readonly string[]; patients: readonly PatientRef[]; studies: readonly StudyRef[] }): string {
  return auditMessage(ctx, {
    event: EVENT_ID.export,
    action: 'R',
    outcome: e.outcome,
    outcomeDescription: e.outcomeDescription,
    participants: [
      operatorParticipant(ctx, [ROLE.source]),
      applicationParticipant(ctx, [ROLE.source]),
      ...(e.recipients ?? []).map(recipientParticipant),
      mediaParticipant(e.media, ROLE.destinationMedia),
    ],
    objects: [...e.studies.map(studyObject), ...e.patients.map(patientObject)],
  });
}

/** 110107 Import (A.5.3.5): the operator and dcmsafe import (Destination Role ID) from a medium (Source Media). */
export function importMessage(ctx: AuditContext, e: { outcome: Outcome; outcomeDescription?: string; media: MediaRef; patients: readonly PatientRef[]; studies: readonly StudyRef[] }): string {
  return auditMessage(ctx, {
    event: EVENT_ID.import,
    action: 'C',
    outcome: e.outcome,
    outcomeDescription: e.outcomeDescription,
    participants: [operatorParticipant(ctx, [ROLE.destination]), applicationParticipant(ctx, [ROLE.destination]), mediaParticipant(e.media, ROLE.sourceMedia)],
    objects: [...e.studies.map(studyObject), ...e.patients.map(patientObject)],
  });
}

/** 110102 Begin Transferring DICOM Instances (A.5.3.3): dcmsafe sends (Source Role ID), the peer receives; one patient. */
export function beginTransferringMessage(ctx: AuditContext, e: { outcome: Outcome; outcomeDescription?: string; destination: PeerRef; patient: PatientRef; studies: readonly StudyRef[] }): string {
  return auditMessage(ctx, {
    event: EVENT_ID.beginTransferring,
    action: 'E',
    outcome: e.outcome,
    outcomeDescription: e.outcomeDescription,
    participants: transferParticipants(ctx, e.destination),
    objects: [...e.studies.map(studyObject), patientObject(e.patient)],
  });
}

/**
 * 110104 DICOM Instances Transferred (A.5.3.7): as Begin Transferring, at completion. The action is the
 * receiver's view: C (instances new to it), R (a read for the transfer), U (instances it already had).
 */
export function instancesTransferredMessage(ctx: AuditContext, e: { outcome: Outcome; outcomeDescription?: string; action: 'C' | 'R' | 'U'; destination: PeerRef; patient: PatientRef; studies: readonly StudyRef[] }): string {
  return auditMessage(ctx, {
    event: EVENT_ID.instancesTransferred,
    action: e.action,
    outcome: e.outcome,
    outcomeDescription: e.outcomeDescription,
    participants: transferParticipants(ctx, e.destination),
    objects: [...e.studies.map(studyObject), patientObject(e.patient)],
  });
}

/**
 * 110113 Security Alert (A.5.3.11): reported by the operator and dcmsafe. The subject (a peer, a user, a
 * file or medium) is the Alert Subject participant object, with the description as its mandatory
 * "Alert Description" detail. Success means an informative alert; the failures grade its severity.
 */
export function securityAlertMessage(ctx: AuditContext, e: { outcome: Outcome; outcomeDescription: string; alert: SecurityAlertKind; subject?: string }): string {
  return auditMessage(ctx, {
    event: EVENT_ID.securityAlert,
    eventTypes: SECURITY_ALERT[e.alert],
    action: 'E',
    outcome: e.outcome,
    outcomeDescription: e.outcomeDescription,
    participants: [operatorParticipant(ctx, []), applicationParticipant(ctx, [])],
    objects: e.subject === undefined ? [] : [alertSubjectObject(e.alert, e.subject, e.outcomeDescription)],
  });
}

/**
 * 110114 User Authentication (A.5.3.12): the person who logs in or out is the requestor, dcmsafe the
 * node performing the authentication. The operator, if someone else, is named too (not as requestor).
 */
export function userAuthenticationMessage(ctx: AuditContext, e: { outcome: Outcome; outcomeDescription?: string; action: 'login' | 'logout'; user: { readonly userId: string; readonly name?: string } }): string {
  const person = participant({ userId: e.user.userId, userName: e.user.name, requestor: true, roles: [], ...networkAccessPoint(ctx.application.host) });
  const operator = e.user.userId === ctx.operator.userId ? [] : [participant({ userId: ctx.operator.userId, userName: ctx.operator.name, requestor: false, roles: [] })];
  return auditMessage(ctx, {
    event: EVENT_ID.userAuthentication,
    eventTypes: [e.action === 'login' ? EVENT_TYPE.login : EVENT_TYPE.logout],
    action: 'E',
    outcome: e.outcome,
    outcomeDescription: e.outcomeDescription,
    participants: [person, applicationParticipant(ctx, []), ...operator],
    objects: [],
  });
}

/** 110100 Application Activity (A.5.3.1): dcmsafe (Application) started or stopped by the operator (Application Launcher). */
export function applicationActivityMessage(ctx: AuditContext, e: { outcome: Outcome; action: 'start' | 'stop' }): string {
  return auditMessage(ctx, {
    event: EVENT_ID.applicationActivity,
    eventTypes: [e.action === 'start' ? EVENT_TYPE.applicationStart : EVENT_TYPE.applicationStop],
    action: 'E',
    outcome: e.outcome,
    participants: [operatorParticipant(ctx, [ROLE.applicationLauncher]), applicationParticipant(ctx, [ROLE.application])],
    objects: [],
  });
}

// ---------------------------------------------------------------------------------------------------
// Participants and participant objects

interface ParticipantFields {
  readonly userId: string;
  readonly alternativeUserId?: string | undefined;
  readonly userName?: string | undefined;
  readonly requestor: boolean;
  readonly roles: readonly Code[];
  readonly mediaType?: Code | undefined;
  readonly napId?: string | undefined;
  readonly napType?: '1' | '2' | '4' | '5' | undefined;
}

/** ActiveParticipant: RoleIDCode*, MediaIdentifier? (in this order), and the attributes. */
function participant(p: ParticipantFields): string {
  return element(
    'ActiveParticipant',
    {
      UserID: p.userId,
      AlternativeUserID: p.alternativeUserId,
      UserName: p.userName,
      UserIsRequestor: p.requestor,
      NetworkAccessPointID: p.napId,
      NetworkAccessPointTypeCode: p.napId === undefined ? undefined : p.napType,
    },
    [...p.roles.map((r) => coded('RoleIDCode', r)), ...(p.mediaType ? [element('MediaIdentifier', {}, [coded('MediaType', p.mediaType)])] : [])],
  );
}

function operatorParticipant(ctx: AuditContext, roles: readonly Code[]): string {
  return participant({ userId: ctx.operator.userId, userName: ctx.operator.name, requestor: true, roles, ...networkAccessPoint(ctx.application.host) });
}

/** The dcmsafe process: UserID the process ID (A.5.2.1), UserName the program, AE title as A.5.2.2 says. */
function applicationParticipant(ctx: AuditContext, roles: readonly Code[]): string {
  const app = ctx.application;
  return participant({
    userId: String(app.processId),
    alternativeUserId: app.aeTitle ? `AETITLES=${app.aeTitle}` : undefined,
    userName: `${app.name} ${app.version}`,
    requestor: false,
    roles,
    ...networkAccessPoint(app.host),
  });
}

function peerParticipant(peer: PeerRef, role: Code): string {
  return participant({ userId: peer.aeTitle, alternativeUserId: `AETITLES=${peer.aeTitle}`, requestor: false, roles: [role], ...networkAccessPoint(peer.host) });
}

/** A.5.3.3 and A.5.3.7: the sender (us), the receiver, and the operator as the third party who asked. */
function transferParticipants(ctx: AuditContext, destination: PeerRef): string[] {
  return [operatorParticipant(ctx, []), applicationParticipant(ctx, [ROLE.source]), peerParticipant(destination, ROLE.destination)];
}

/** A remote recipient of exported data (Destination Role ID); an e-mail address says how it is reached. */
function recipientParticipant(recipient: string): string {
  const address = recipient.replace(/^mailto:/i, '');
  const email = /^[^\s@]+@[^\s@]+$/.test(address);
  return participant({ userId: recipient, requestor: false, roles: [ROLE.destination], ...(email ? { napId: address, napType: '4' as const } : {}) });
}

/**
 * The medium (A.5.2.1, A.5.2.2): UserID the label (a folder: its file: URL, the preferred form), the
 * machine-readable identifier as AlternativeUserID, MediaType from CID 405. Never the requestor.
 */
function mediaParticipant(media: MediaRef, role: Code): string {
  const base = { alternativeUserId: media.identifier, requestor: false, roles: [role], mediaType: MEDIA_TYPE[media.kind] };
  if (media.kind === 'folder' && media.label !== undefined) {
    const url = fileUrl(media.label);
    return participant({ ...base, userId: url, napId: url, napType: '5' });
  }
  return participant({ ...base, userId: media.label ?? media.identifier });
}

function networkAccessPoint(host: string): { napId: string; napType: '1' | '2' } {
  return { napId: host, napType: isIP(host) === 0 ? '1' : '2' };
}

/** Patient (A.5.3.x): person, role patient, ID type Patient Number. */
function patientObject(p: PatientRef): string {
  return participantObject({ id: p.id, typeCode: '1', role: '1', idType: OBJECT_ID_TYPE.patientNumber, name: p.name ?? '' });
}

/** Study (A.5.3.x): system object, role report, ID type Study Instance UID, and what it holds. */
function studyObject(s: StudyRef): string {
  const description = element('ParticipantObjectDescription', {}, [
    ...(s.accessionNumber ? [element('Accession', { Number: s.accessionNumber })] : []),
    ...(s.sopClasses ?? []).map((c) => element('SOPClass', { UID: c.uid, NumberOfInstances: instanceCount(c.instances) })),
    element('Encrypted', {}, [escapeText(String(s.encrypted === true))]),
    element('Anonymized', {}, ['false']),
  ]);
  return participantObject({ id: s.studyInstanceUID, typeCode: '2', role: '3', idType: OBJECT_ID_TYPE.studyInstanceUID, name: '', descriptions: [description] });
}

/** The Alert Subject of a Security Alert (A.5.3.11): a node, a user, or a file named by its URI. */
function alertSubjectObject(alert: SecurityAlertKind, subject: string, description: string): string {
  const detail = element('ParticipantObjectDetail', { type: 'Alert Description', value: Buffer.from(description, 'utf8').toString('base64') });
  switch (alert) {
    case 'node-authentication':
      return participantObject({ id: subject, typeCode: '2', idType: OBJECT_ID_TYPE.nodeId, name: subject, details: [detail] });
    case 'user-authentication':
    case 'use-of-restricted-function':
      return participantObject({ id: subject, typeCode: '2', idType: OBJECT_ID_TYPE.userIdentifier, name: subject, details: [detail] });
    default:
      return participantObject({ id: fileUrl(subject), typeCode: '2', role: '13', idType: OBJECT_ID_TYPE.uri, name: subject, details: [detail] });
  }
}

/** ParticipantObjectIdentification: IDTypeCode, Name, Detail*, Description* (in this order), attributes. */
function participantObject(o: { id: string; typeCode: '1' | '2'; role?: '1' | '3' | '13'; idType: Code; name: string; details?: readonly string[]; descriptions?: readonly string[] }): string {
  return element('ParticipantObjectIdentification', { ParticipantObjectID: o.id, ParticipantObjectTypeCode: o.typeCode, ParticipantObjectTypeCodeRole: o.role }, [
    coded('ParticipantObjectIDTypeCode', o.idType),
    element('ParticipantObjectName', {}, [escapeText(o.name)]),
    ...(o.details ?? []),
    ...(o.descriptions ?? []),
  ]);
}

function instanceCount(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`NumberOfInstances must be a whole number ≥ 0, not ${n}`);
  return n;
}

// ---------------------------------------------------------------------------------------------------
// The envelope

interface MessageFields {
  readonly event: Code;
  readonly eventTypes?: readonly Code[];
  readonly action: Action;
  readonly outcome: Outcome;
  readonly outcomeDescription?: string | undefined;
  readonly participants: readonly string[];
  readonly objects: readonly string[];
}

/** AuditMessage: EventIdentification, ActiveParticipant+, AuditSourceIdentification, ParticipantObjectIdentification*. */
function auditMessage(ctx: AuditContext, m: MessageFields): string {
  const event = element('EventIdentification', { EventActionCode: m.action, EventDateTime: isoWithOffset(ctx.when), EventOutcomeIndicator: String(m.outcome) }, [
    coded('EventID', m.event),
    ...(m.eventTypes ?? []).map((t) => coded('EventTypeCode', t)),
    ...(m.outcomeDescription !== undefined ? [element('EventOutcomeDescription', {}, [escapeText(m.outcomeDescription)])] : []),
  ]);
  const source = element('AuditSourceIdentification', { AuditEnterpriseSiteID: ctx.enterpriseSiteId, AuditSourceID: ctx.auditSourceId }, [element('AuditSourceTypeCode', { 'csd-code': AUDIT_SOURCE_TYPE })]);
  return `<?xml version="1.0" encoding="UTF-8"?>${element('AuditMessage', {}, [event, ...m.participants, source, ...m.objects])}`;
}


/** A path as a file: URL; a value that already is a URI is kept. Relative paths are taken from the working folder. */
function fileUrl(location: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(location) && !/^[A-Za-z]:[\\/]/.test(location)) return location;
  return pathToFileURL(path.resolve(location)).href;
}

// ---------------------------------------------------------------------------------------------------
// XML writing

type AttributeValue = string | number | boolean | undefined;

/** One element; attributes in the given order (undefined ones left out); children already serialised. */
function element(name: string, attributes: Readonly<Record<string, AttributeValue>>, children: readonly string[] = []): string {
  let out = `<${name}`;
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined) out += ` ${key}="${escapeAttribute(String(value))}"`;
  }
  return children.length === 0 ? `${out}/>` : `${out}>${children.join('')}</${name}>`;
}

function coded(name: string, c: Code): string {
  return element(name, { 'csd-code': c.code, codeSystemName: c.scheme, originalText: c.meaning });
}

/**
 * Characters XML 1.0 cannot carry at all (§2.2: C0 controls but tab, LF, CR; U+FFFE, U+FFFF; lone
 * surrogates) become U+FFFD: names read from a hostile medium must not break the message.
 */
function xmlChars(s: string): string {
  // eslint-disable-next-line no-control-regex -- matching the control characters is the point
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

function escapeText(s: string): string {
  return xmlChars(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Tab, LF and CR as character references: literally, an XML parser would turn them into spaces. */
function escapeAttribute(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}
