// Reads JSON lines (`{"text": "..."}`) on stdin and prints, for each, one JSON line with
// twitter-text's `parseTweet` verdict (the default config: v3, emoji parsing on).
'use strict';
const readline = require('readline');
const twitter = require('twitter-text');

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const { text } = JSON.parse(line);
  const { weightedLength, valid } = twitter.parseTweet(text);
  process.stdout.write(JSON.stringify({ weightedLength, valid }) + '\n');
});
