/**
 * Histories on disk as JSON lines, one event per line, appended synchronously so that a
 * crash of the runner leaves every recorded event readable.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MeterfabricError } from '../../core/errors.js';
import { makeDirectorySync } from '../../core/fs/make-directory.js';
import type { HistoryEvent } from './history.js';

export function appendHistoryEvent(path: string, event: HistoryEvent): void {
  appendFileSync(path, `${JSON.stringify(event)}\n`);
}

export function prepareHistoryFile(path: string): void {
  makeDirectorySync(dirname(path));
}

/** Reads a JSON-lines file; a malformed line is an error naming the line (nothing is guessed). */
export function readJsonLines<T>(path: string): T[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const records: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line) as T);
    } catch (err) {
      // A torn last line is what a kill -9 mid-append leaves; anything else is corruption.
      if (i === lines.length - 1) return;
      throw new MeterfabricError(
        'MF_CHAOS_HISTORY_CORRUPT',
        `${path}:${i + 1}: not JSON (${(err as Error).message})`,
        {
          path,
          line: i + 1,
        },
      );
    }
  });
  return records;
}

export function readHistory(path: string): HistoryEvent[] {
  return readJsonLines<HistoryEvent>(path);
}
