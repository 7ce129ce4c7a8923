// Compiles a Solidity standard-JSON input (stdin) with the solc version pinned in package.json
// and prints the standard-JSON output. Needs no network: the compiler ships in the package.
const solc = require("solc");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  process.stdout.write(solc.compile(input));
});
