/**
 * Log pipelines that lowercase field names (Logstash `mutate { lowercase }`, some Elastic
 * ingest pipelines, data-lake exports) turn CloudTrail's `eventName` into `eventname` and
 * `userIdentity.accessKeyId` into `useridentity.accesskeyid`. CloudTrail's own names are
 * restored here, at every depth, from the record-contents reference:
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
 * (and the userIdentity / STS / IAM request and response elements the normalizer reads).
 */
const CLOUDTRAIL_KEYS = [
  // record contents
  'eventVersion', 'userIdentity', 'eventTime', 'eventSource', 'eventName', 'awsRegion', 'sourceIPAddress', 'userAgent',
  'errorCode', 'errorMessage', 'requestParameters', 'responseElements', 'additionalEventData', 'requestID', 'eventID',
  'eventType', 'apiVersion', 'managementEvent', 'readOnly', 'resources', 'recipientAccountId', 'serviceEventDetails',
  'sharedEventID', 'vpcEndpointId', 'vpcEndpointAccountId', 'eventCategory', 'addendum', 'sessionCredentialFromConsole',
  'edgeDeviceDetails', 'tlsDetails', 'insightDetails', 'tlsVersion', 'cipherSuite', 'clientProvidedHostHeader',
  // userIdentity
  'principalId', 'arn', 'accountId', 'accessKeyId', 'userName', 'sessionContext', 'attributes', 'creationDate',
  'mfaAuthenticated', 'sessionIssuer', 'webIdFederationData', 'federatedProvider', 'sourceIdentity', 'ec2RoleDelivery',
  'invokedBy', 'identityProvider', 'credentialId', 'onBehalfOf', 'inScopeOf', 'issuerType', 'credentialsIssuedTo',
  'assumedRoot', 'userId', 'identityStoreArn',
  // STS / IAM request and response elements
  'roleArn', 'roleSessionName', 'durationSeconds', 'externalId', 'policyArns', 'credentials', 'sessionToken',
  'expiration', 'assumedRoleUser', 'assumedRoleId', 'packedPolicySize', 'accessKey', 'createDate', 'subjectFromWebIdentityToken',
  'subjectType', 'audience', 'provider', 'principalArn', 'sAMLAssertionID', 'serialNumber', 'tokenCode', 'federatedUser',
  'federatedUserId', 'targetPrincipal', 'instanceId',
] as const;

const BY_LOWER: ReadonlyMap<string, string> = new Map(CLOUDTRAIL_KEYS.map((k) => [k.toLowerCase(), k]));

/** A record whose CloudTrail keys were lowercased (`eventsource` present, `eventSource` absent). */
export function hasLowercasedCloudTrailKeys(v: Record<string, unknown>): boolean {
  return 'eventsource' in v && !('eventSource' in v);
}

/** The record with CloudTrail's camelCase names restored at every depth (a copy; values unchanged). */
export function restoreCloudTrailKeys(v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object' || depth > 64) return v;
  if (Array.isArray(v)) return v.map((x) => restoreCloudTrailKeys(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const canon = BY_LOWER.get(k) ?? k;
    // a key already spelled canonically wins over its lowercased twin
    if (canon !== k && Object.hasOwn(v, canon)) continue;
    out[canon] = restoreCloudTrailKeys(x, depth + 1);
  }
  return out;
}
