// driver.mjs — opens the test page in Debian's headless Chromium through playwright-core
// (never a downloaded browser), waits for the page to finish its calls and prints the text
// of each result line, then the browser console's errors. Usage:
//   node driver.mjs URL USER_DATA_DIR
import { chromium } from "playwright-core";

const [url, userDataDir] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
const console_ = [];
page.on("console", (m) => console_.push(`${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => console_.push(`pageerror: ${e.message}`));
let code = 0;
try {
  await page.goto(url);
  await page.waitForSelector("#done", { state: "attached", timeout: 60000 });
  for (const li of await page.locator("#results li").allInnerTexts()) console.log(li);
} catch (e) {
  console.log(`driver: ${e.message}`);
  code = 1;
}
for (const line of console_) console.log(`console ${line}`);
await context.close();
process.exit(code);
