// Structured logs (pino) for everything, including the Temporal SDK's own runtime logs.
import pino from 'pino';
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';

export type Logger = pino.Logger;

export function createLogger(level: pino.LevelWithSilent, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'model-rollout' },
      redact: {
        paths: ['*.apiKey', '*.token', '*.authorization', '*.headers.authorization', 'apiKey', 'token'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Bridges the SDK's Logger interface (runtime, worker and replay-safe workflow logs) onto pino. */
export class PinoSdkLogger implements SdkLogger {
  constructor(private readonly target: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.target[LEVELS[level]](meta ?? {}, message);
  }
  trace(message: string, meta?: LogMetadata): void { this.log('TRACE', message, meta); }
  debug(message: string, meta?: LogMetadata): void { this.log('DEBUG', message, meta); }
  info(message: string, meta?: LogMetadata): void { this.log('INFO', message, meta); }
  warn(message: string, meta?: LogMetadata): void { this.log('WARN', message, meta); }
  error(message: string, meta?: LogMetadata): void { this.log('ERROR', message, meta); }
}
