// Portcullis passkeys: the one script of the pages (WebAuthn needs JavaScript; signing in
// with a password does not). Elements marked data-passkey stay hidden until this script finds
// a browser that can use passkeys. The server keeps every ceremony's state; this only carries
// options and answers between it and navigator.credentials.
(() => {
  "use strict";
  const supported =
    window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
  if (!supported) return;
  document.querySelectorAll("[data-passkey]").forEach((el) => { el.hidden = false; });

  const post = async (url, body) => {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw Object.assign(new Error(answer.error_description || "the server refused"), {
        code: answer.error,
      });
    }
    return answer;
  };
  const say = (message) => {
    const el = document.getElementById("passkey-status");
    if (el) { el.textContent = message; el.hidden = false; el.focus(); }
  };
  const cancelled = (err) => err && err.name === "NotAllowedError";

  // Account page: add a passkey.
  const add = document.getElementById("passkey-add");
  if (add) {
    add.addEventListener("submit", async (event) => {
      event.preventDefault();
      const csrf = add.elements.csrf.value;
      try {
        const start = await post("/webauthn/register/start", {
          csrf,
          current_password: add.elements.current_password.value,
        });
        const credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(start.options.publicKey),
        });
        const done = await post("/webauthn/register/finish", {
          csrf,
          ceremony: start.ceremony,
          name: add.elements.passkey_name.value,
          credential: credential.toJSON(),
        });
        window.location.assign(done.redirect);
      } catch (err) {
        if (err.code === "step_up") {
          // A session that has not used the second factor: confirm it first.
          window.location.assign("/signin/second-factor?return_to=%2Faccount");
          return;
        }
        say(cancelled(err) ? "The passkey was not added: cancelled." : "The passkey was not added: " + err.message);
      }
    });
  }

  // Sign-in and second-step pages: use a passkey.
  const use = document.getElementById("passkey-use");
  if (use) {
    use.addEventListener("click", async () => {
      const csrf = use.dataset.csrf;
      try {
        const start = await post("/webauthn/authenticate/start", { csrf });
        const credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(start.options.publicKey),
        });
        const done = await post("/webauthn/authenticate/finish", {
          csrf,
          ceremony: start.ceremony,
          credential: credential.toJSON(),
          return_to: use.dataset.returnTo || "",
        });
        window.location.assign(done.redirect);
      } catch (err) {
        say(cancelled(err) ? "Signing in with a passkey was cancelled." : "That did not work: " + err.message);
      }
    });
  }
})();
