/**
 * The vendor format registry, in auto-detection order (most specific first).
 */
import type { SourceFormat } from '../../schemas/token-event.js';
import type { VendorFormat } from './types.js';
import { cloudtrail } from './cloudtrail.js';
import { securityLake } from './security-lake.js';
import { guardduty } from './guardduty.js';
import { gcpAudit } from './gcp-audit.js';
import { k8sAudit } from './k8s-audit.js';
import { okta } from './okta.js';
import { entraSignin } from './entra-signin.js';
import { entraGraph } from './entra-graph.js';
import { entraAudit } from './entra-audit.js';
import { auth0 } from './auth0.js';
import { kong } from './kong.js';
import { envoy } from './envoy.js';
import { awsApigw } from './aws-apigw.js';
import { keycloak } from './keycloak.js';
import { vaultAudit } from './vault-audit.js';
import { githubAudit } from './github-audit.js';

export const FORMATS: readonly VendorFormat[] = [cloudtrail, securityLake, guardduty, gcpAudit, k8sAudit, okta, entraSignin, entraGraph, entraAudit, keycloak, vaultAudit, githubAudit, auth0, kong, awsApigw, envoy];

export const FORMATS_BY_ID: ReadonlyMap<SourceFormat, VendorFormat> = new Map(FORMATS.map((f) => [f.id, f]));
