import { CanetDeframer, encodeCanet } from '../can/canet.js';
import type { CanFrame } from '../can/frame.js';
import { encodeRs485Frame, type Rs485Frame } from '../rs485/frame.js';
import { Rs485Deframer } from '../rs485/stream.js';
import type { WireFormat } from './transport.js';

/** 13-byte CANET frames (USR/Waveshare-style CAN-to-Ethernet gateways). */
export const canetWireFormat: WireFormat<CanFrame> = {
  name: 'canet',
  encode: encodeCanet,
  createDeframer: () => new CanetDeframer(),
};

/** Pylontech ASCII frames through a transparent RS485-to-TCP serial server. */
export const rs485WireFormat: WireFormat<Rs485Frame> = {
  name: 'rs485',
  encode: (frame) => Buffer.from(encodeRs485Frame(frame), 'latin1'),
  createDeframer: () => new Rs485Deframer(),
};
