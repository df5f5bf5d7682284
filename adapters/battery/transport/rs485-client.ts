import { BatteryTransportError } from '../errors.js';
import { buildRequest, type DecodedReply, decodeReply, type Rs485Command } from '../rs485/commands.js';
import type { Rs485Frame } from '../rs485/frame.js';
import { decodeRs485Frame } from '../rs485/frame.js';
import type { Rs485Transport } from './transport.js';

export type Rs485ClientOptions = { replyTimeoutMs?: number; ver?: number };

/**
 * Polls a Pylontech-protocol BMS over an RS485 transport: one request at a time (RS485 is
 * half-duplex and the master answers in order), each with a reply deadline. Frames that arrive
 * with no request outstanding are ignored; a corrupt reply fails only its own request.
 */
export class Rs485Client {
  private readonly replyTimeoutMs: number;
  private readonly ver: number | undefined;
  private pending: { adr: number; resolve: (f: Rs485Frame) => void; reject: (e: Error) => void } | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly transport: Rs485Transport,
    options: Rs485ClientOptions = {},
  ) {
    this.replyTimeoutMs = options.replyTimeoutMs ?? 2_000;
    this.ver = options.ver;
    this.unsubscribe = transport.subscribe((event) => {
      const pending = this.pending;
      if (!pending) return;
      // The protocol has no sequence numbers: a reply from another address (a late answer to an
      // earlier, timed-out request to a slave) is not ours and is skipped.
      if (event.type === 'message') {
        if (event.message.adr === pending.adr) pending.resolve(event.message);
      } else if (event.type === 'error') pending.reject(event.error);
      else
        pending.reject(
          new BatteryTransportError('MF_BATTERY_TRANSPORT_CLOSED', `${transport.description} closed`),
        );
    });
  }

  /** Sends `command` to pack address `target` and decodes its reply (typed errors on RTN ≠ 0). */
  request(
    command: Rs485Command,
    target: number,
    options: { allPacks?: boolean } = {},
  ): Promise<DecodedReply> {
    const run = async (): Promise<DecodedReply> => {
      const requestText = buildRequest(command, target, {
        allPacks: options.allPacks,
        ...(this.ver === undefined ? {} : { ver: this.ver }),
      });
      const reply = await new Promise<Rs485Frame>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending = undefined;
          reject(
            new BatteryTransportError(
              'MF_BATTERY_TRANSPORT_TIMEOUT',
              `${this.transport.description}: no reply to CID2 0x${command.toString(16)} from address 0x${target.toString(16)} within ${this.replyTimeoutMs} ms`,
            ),
          );
        }, this.replyTimeoutMs);
        this.pending = {
          adr: target,
          resolve: (f) => {
            clearTimeout(timer);
            this.pending = undefined;
            resolve(f);
          },
          reject: (e) => {
            clearTimeout(timer);
            this.pending = undefined;
            reject(e);
          },
        };
        this.transport.send(decodeRs485Frame(requestText)).catch((err: Error) => this.pending?.reject(err));
      });
      return decodeReply(reply, command, options);
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.unsubscribe();
  }
}
