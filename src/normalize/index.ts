/**
 * The vendor format registry, in auto-detection order (most specific first).
 */
import type { SourceFormat } from '../../schemas/token-event.js';
import type { VendorFormat } from './types.js';
import { cloudtrail } from './cloudtrail.js';
import { gcpAudit } from './gcp-audit.js';
import { k8sAudit } from './k8s-audit.js';
import { okta } from './okta.js';
import { entraSignin } from './entra-signin.js';
import { entraGraph } from './entra-graph.js';
import { auth0 } from './auth0.js';
import { kong } from './kong.js';
import { envoy } from './envoy.js';
import { awsApigw } from './aws-apigw.js';

export const FORMATS: readonly VendorFormat[] = [cloudtrail, gcpAudit, k8sAudit, okta, entraSignin, entraGraph, auth0, kong, awsApigw, envoy];

export const FORMATS_BY_ID: ReadonlyMap<SourceFormat, VendorFormat> = new Map(FORMATS.map((f) => [f.id, f]));
