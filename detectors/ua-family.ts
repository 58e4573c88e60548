/**
 * User-agent family: the first product token ("aws-cli/2.15 Python/3.11" → "aws-cli"), so SDK
 * version bumps compare equal. Shared by the detectors that compare clients.
 */
import { memoize } from './memo.js';

const MAX_UA_SCAN = 256;

const uaFamilyOf = memoize((ua: string): string | undefined => {
  const s = ua.slice(0, MAX_UA_SCAN).trim().replace(/^\[+/, '');
  const m = /^[^\s/()[\];,]+/.exec(s);
  return m ? m[0] : undefined;
});

export function uaFamily(ua: string | undefined): string | undefined {
  return ua === undefined ? undefined : uaFamilyOf(ua);
}
