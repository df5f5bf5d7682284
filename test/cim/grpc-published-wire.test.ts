import { describe, expect, it } from 'vitest';
import { encodePublishedMessageWire, HeadendService } from '../../actors/integration/bridge/grpc-bridge.js';
import {
  MAX_POSITION_SEQ,
  messagePosition,
  type PublishedMessage,
} from '../../actors/integration/cim-publisher.js';

/**
 * SubscribeEvents writes each PublishedMessage from its UTF-8 bytes with a serializer of its own:
 * on the wire it must be exactly what the proto's generic serializer (protobufjs via proto-loader)
 * writes for the same message with the XML as a string, so clients see no change.
 */
const generic = HeadendService.service.SubscribeEvents!;

const messages: { name: string; m: PublishedMessage; xml: string }[] = [
  ['ascii, no correlation', 1, 'MeterReadings', undefined, '<?xml version="1.0"?>\n<EventMessage/>\n'],
  ['non-ASCII text and a correlation', messagePosition(7, 3), 'EndDeviceEvents', 'corr-é', '<a>é 𝄞 ü</a>'],
  ['position 0 and empty XML', 0, 'MeterReadings', '', ''],
  ['a position past 2^32', messagePosition(MAX_POSITION_SEQ, 5), 'MeterReadings', undefined, 'x'.repeat(300)],
].map(([name, position, noun, correlationId, xml]) => ({
  name: name as string,
  xml: xml as string,
  m: {
    position: position as number,
    noun: noun as PublishedMessage['noun'],
    messageId: '5c1a0f7e-1d2b-5a3c-9e4f-0123456789ab',
    ...(correlationId !== undefined ? { correlationId: correlationId as string } : {}),
    bytes: new TextEncoder().encode(xml as string),
  },
}));

describe('SubscribeEvents wire form from bytes', () => {
  for (const { name, m, xml } of messages)
    it(`is byte-identical to the generic serializer's (${name})`, () => {
      const want = generic.responseSerialize({
        position: m.position,
        noun: m.noun,
        messageId: m.messageId,
        correlationId: m.correlationId ?? '',
        xml,
      });
      const got = encodePublishedMessageWire(m);
      expect(got.equals(want)).toBe(true);
      const back = generic.responseDeserialize(got) as Record<string, unknown>;
      expect(back).toMatchObject({
        noun: m.noun,
        messageId: m.messageId,
        xml,
        correlationId: m.correlationId ?? '',
      });
      expect(Number(back.position)).toBe(m.position);
    });
});
