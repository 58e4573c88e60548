/**
 * pino JSON logs. Log fields never hold a token: callers log fingerprints, counts and ids.
 * Known secret-bearing paths are redacted as a second line of defence.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: LoggerOptions['level']; name?: string } = {}, dest?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name: opts.name ?? 'tokenwatch',
      level: opts.level ?? process.env.TOKENWATCH_LOG_LEVEL ?? 'info',
      redact: {
        paths: ['*.authorization', '*.Authorization', '*.sessionToken', '*.secretAccessKey', '*.password', '*.token', '*.access_token', '*.refresh_token', '*.client_secret'],
        censor: '[redacted]',
      },
    },
    (dest as pino.DestinationStream | undefined) ?? pino.destination(2),
  );
}
