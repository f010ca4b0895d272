/** All the chunks of a stream in one buffer: only for what is small by construction (a DICOMDIR, an encrypted attribute set). */
export async function collectChunks(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}
