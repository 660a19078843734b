// The Nex form: a script whose value is the function.
(subject, payload) => {
  return { triggered_on: subject, payload: payload.text() };
};
