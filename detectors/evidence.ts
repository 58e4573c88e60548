/**
 * What a detector keeps of an event for later evidence: the part that evidence and drafts read
 * (src/pipeline/alert-builder.ts toEvidence, issuer/subject). A token's record lives for hours
 * and most tokens never alert, so records keep this instead of the whole event.
 */
import type { TokenEvent } from '../schemas/token-event.js';

export function evidenceOf(e: TokenEvent): TokenEvent {
  const t: TokenEvent = { event_id: e.event_id, source: e.source, platform: e.platform, action: e.action, time: e.time, token: e.token };
  if (e.issuer !== undefined) t.issuer = e.issuer;
  if (e.subject !== undefined) t.subject = e.subject;
  if (e.service !== undefined) t.service = e.service;
  if (e.network !== undefined) t.network = e.network;
  if (e.user_agent !== undefined) t.user_agent = e.user_agent;
  if (e.workload !== undefined) t.workload = e.workload;
  if (e.operation !== undefined) t.operation = e.operation;
  // the scope list toEvidence shows: used, else granted, else requested
  if (e.scopes_used !== undefined) t.scopes_used = e.scopes_used;
  else if (e.scopes_granted !== undefined) t.scopes_granted = e.scopes_granted;
  else if (e.scopes_requested !== undefined) t.scopes_requested = e.scopes_requested;
  return t;
}

