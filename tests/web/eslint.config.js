// Lint of the chat's page script (qa/web/static/chat.js): eslint's recommended rules, browser globals.
// Run by tests/test_web_static.py (from the checkout):
//   tests/web/node_modules/.bin/eslint -c tests/web/eslint.config.js --max-warnings 0 qa/web/static/chat.js
const {defineConfig} = require("eslint/config");
const js = require("@eslint/js");
const globals = require("globals");

module.exports = defineConfig([
  {
    files: ["qa/web/static/**/*.js"],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: {...globals.browser},
    },
    // `({el, ...rest}) => rest` drops a field on purpose (the stored conversation leaves out DOM nodes).
    rules: {"no-unused-vars": ["error", {ignoreRestSiblings: true}]},
  },
]);
