/**
 * The README's props reference, generated from the doc comments of the exported props interfaces: `npm run docs`
 * rewrites it, a test keeps it in step (as the event table is).
 */
import { join } from 'node:path';
import * as ts from 'typescript';

export const PROPS_BEGIN = '<!-- props:begin (generated from the doc comments in lib/ by `npm run docs`) -->';
export const PROPS_END = '<!-- props:end -->';

/** Each construct's props, then the structs they take, in reading order. */
const INTERFACES = [
  'TogetherWebhooksProps',
  'TogetherEventHandlers',
  'PollerOptions',
  'ModelDeprecationInfo',
  'RegistrationOptions',
  'TogetherJobPollerProps',
  'TogetherWebhookRegistrationProps',
  'TogetherAutoDeployProps',
  'TogetherModelAliasesProps',
  'ModelAlias',
  'TogetherBatchResultsProps',
  'TogetherTrainingMonitorProps',
];

const cell = (text: string) => text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim();

export function propsReference(): string {
  const root = join(__dirname, '..');
  const program = ts.createProgram([join(root, 'lib', 'index.ts')], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    strict: true,
  });
  const checker = program.getTypeChecker();
  const found = new Map<string, ts.InterfaceDeclaration>();
  for (const file of program.getSourceFiles()) {
    if (!file.fileName.startsWith(join(root, 'lib'))) continue;
    ts.forEachChild(file, (node) => {
      if (ts.isInterfaceDeclaration(node) && INTERFACES.includes(node.name.text))
        found.set(node.name.text, node);
    });
  }
  const sections: string[] = [];
  for (const name of INTERFACES) {
    const decl = found.get(name);
    if (!decl) throw new Error(`props reference: interface ${name} not found in lib/`);
    const doc = ts.displayPartsToString(
      checker.getSymbolAtLocation(decl.name)?.getDocumentationComment(checker),
    );
    const base = decl.heritageClauses?.flatMap((h) => h.types.map((t) => t.expression.getText())) ?? [];
    const rows = decl.members.filter(ts.isPropertySignature).map((member) => {
      const symbol = checker.getSymbolAtLocation(member.name)!;
      const text = ts.displayPartsToString(symbol.getDocumentationComment(checker));
      const fallback = symbol.getJsDocTags().find((t) => t.name === 'default');
      const optional = member.questionToken !== undefined;
      const defaultText = fallback ? ts.displayPartsToString(fallback.text) : optional ? '' : 'required';
      return `| \`${member.name.getText()}\` | \`${cell(member.type?.getText() ?? '')}\` | ${cell(defaultText)} | ${cell(text)} |`;
    });
    const intro =
      cell(doc) + (base.length ? ` Also every prop of ${base.map((b) => `\`${b}\``).join(', ')}.` : '');
    sections.push(
      [
        `#### \`${name}\``,
        '',
        ...(intro.trim() ? [intro.trim(), ''] : []),
        '| prop | type | default | what it does |',
        '| --- | --- | --- | --- |',
        ...rows,
      ].join('\n'),
    );
  }
  return sections.join('\n\n');
}

export function withProps(readme: string): string {
  const start = readme.indexOf(PROPS_BEGIN);
  const end = readme.indexOf(PROPS_END);
  if (start < 0 || end < start)
    throw new Error(`README.md needs the markers ${PROPS_BEGIN} ... ${PROPS_END}`);
  return readme.slice(0, start + PROPS_BEGIN.length) + '\n\n' + propsReference() + '\n\n' + readme.slice(end);
}
