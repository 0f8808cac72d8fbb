// Writes <file>.gz beside every text asset of the built console, so the daemons can send
// gzip to browsers without compressing per request (shared/src/static_files.cc).
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync, constants } from 'node:zlib'

const root = process.argv[2]
if (!root) {
  console.error('usage: compress.mjs <dist dir>')
  process.exit(2)
}
const text = /\.(html|js|mjs|css|svg|json|txt)$/
let plain = 0
let packed = 0
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p)
    else if (text.test(name)) {
      const body = readFileSync(p)
      const gz = gzipSync(body, { level: constants.Z_BEST_COMPRESSION })
      writeFileSync(p + '.gz', gz)
      plain += body.length
      packed += gz.length
    }
  }
}
walk(root)
console.log(`console: ${plain} bytes of text, ${packed} gzip-compressed`)
