// A small YAML emitter for the generated proxy config (plain data: maps,
// lists, strings, numbers, booleans). The general `yaml` stringifier was a
// quarter of the webhook's time per review; this one writes the same block
// style, and quotes (as JSON) every string that YAML 1.1 or 1.2 could read as
// something else. Its output is checked against the `yaml` parser in tests.
type Value = null | boolean | number | string | readonly Value[] | { readonly [k: string]: Value | undefined };

const PLAIN = /^[A-Za-z0-9_/.][A-Za-z0-9_./:*@+=~-]*$/;
/** Numbers of the YAML 1.2 core schema and of YAML 1.1 (binary, octal, sexagesimal, dotted floats). */
const NUMBER_LIKE = [
  /^[-+]?[0-9][0-9_]*$/,
  /^[-+]?0[box][0-9a-fA-F_]+$/,
  /^[-+]?([0-9][0-9_]*)?\.[0-9._]*([eE][-+]?[0-9]+)?$/,
  /^[-+]?[0-9][0-9_]*(\.[0-9_]*)?[eE][-+]?[0-9]+$/,
  /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/,
  /^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$/,
];
const KEYWORD = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|<<|=)$/;

export function scalar(v: null | boolean | number | string): string {
  if (typeof v !== 'string') return String(v);
  return PLAIN.test(v) && !NUMBER_LIKE.some((re) => re.test(v)) && !KEYWORD.test(v) ? v : JSON.stringify(v);
}

export function toYaml(value: Value): string {
  return emit(value, 0);
}

function emit(v: Value, indent: number): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    let out = '';
    for (const item of v as readonly Value[]) {
      if (isCollection(item)) out += `${pad}- ${emit(item, indent + 2).slice(indent + 2)}`;
      else out += `${pad}- ${inline(item)}\n`;
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    let out = '';
    for (const [k, item] of Object.entries(v as { [k: string]: Value | undefined })) {
      if (item === undefined) continue;
      if (isCollection(item)) out += `${pad}${scalar(k)}:\n${emit(item, indent + 2)}`;
      else out += `${pad}${scalar(k)}: ${inline(item)}\n`;
    }
    return out;
  }
  return `${pad}${scalar(v as null | boolean | number | string)}\n`;
}

/** A non-empty list or map: written as a block. Empty ones are written inline. */
function isCollection(v: Value | undefined): v is readonly Value[] | { readonly [k: string]: Value } {
  if (Array.isArray(v)) return v.length > 0;
  return v !== null && typeof v === 'object' && Object.keys(v).length > 0;
}

function inline(v: Value): string {
  if (Array.isArray(v)) return '[]';
  if (v !== null && typeof v === 'object') return '{}';
  return scalar(v as null | boolean | number | string);
}
