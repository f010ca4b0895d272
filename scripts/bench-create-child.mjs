// One bench case in its own process, so its peak RSS is its own: create INPUT → OUT, print timing.
import { createMedia } from '../dist/pipelines/create-media.js';

const [input, out] = process.argv.slice(2);
const start = process.hrtime.bigint();
await createMedia({ inputs: [input], media: 'folder', out });
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
