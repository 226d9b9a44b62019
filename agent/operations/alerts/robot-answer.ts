// What the chat robots answer: HTTP 200 for a refused message too, with the
// verdict in the body. Read it, or a refused alert would count as delivered.
//   WeCom and DingTalk: {"errcode":0,"errmsg":"ok"}; anything else in errcode is a refusal.
//   Feishu: {"code":0,"msg":"success"}; older bots {"StatusCode":0,"StatusMessage":"success"}.

/** Why a WeCom or DingTalk answer is a refusal; undefined for errcode 0. */
export function errcodeRefusal(text: string): string | undefined {
  const answer = parse(text);
  if (answer === undefined) return `unexpected answer ${JSON.stringify(text.slice(0, 200))}`;
  if (answer.errcode === 0) return undefined;
  return `errcode ${String(answer.errcode)}: ${String(answer.errmsg ?? '')}`;
}

/** Why a Feishu answer is a refusal; undefined for code 0 (or StatusCode 0). */
export function feishuRefusal(text: string): string | undefined {
  const answer = parse(text);
  if (answer === undefined) return `unexpected answer ${JSON.stringify(text.slice(0, 200))}`;
  if ('code' in answer) return answer.code === 0 ? undefined : `code ${String(answer.code)}: ${String(answer.msg ?? '')}`;
  if ('StatusCode' in answer) return answer.StatusCode === 0 ? undefined : `StatusCode ${String(answer.StatusCode)}: ${String(answer.StatusMessage ?? '')}`;
  return `unexpected answer ${JSON.stringify(text.slice(0, 200))}`;
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
