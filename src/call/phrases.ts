/** What the agent says on its own account when the assistant config gives nothing better. */
export const PHRASES = {
  reprompt: 'Are you still there?',
  didNotCatch: "Sorry, I didn't catch that. Could you say it again?",
  goodbye: 'Thank you for calling. Goodbye.',
  silenceGoodbye: "I haven't heard from you, so I'll end the call now. Goodbye.",
  maxDuration: "We've reached the time limit for this call. Goodbye.",
  filler: 'One moment please.',
  apology: "I'm sorry, I'm having a technical problem. Could you say that again?",
  cantHear: "I'm sorry, I'm having trouble hearing you right now. You can use your keypad.",
  transferring: 'Please hold while I transfer your call.',
} as const;
