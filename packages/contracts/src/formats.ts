import { FormatRegistry } from '@sinclair/typebox';

// TypeBox's Value.Check knows no string formats until they are registered; Fastify's Ajv
// brings its own (ajv-formats). These are the formats contracts use, checked the same way
// wherever a payload is validated outside Fastify (queue producers and workers).
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
}
if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (value) => {
    try {
      return /^[a-z][a-z0-9+.-]*:/i.test(value) && Boolean(new URL(value));
    } catch {
      return false;
    }
  });
}
