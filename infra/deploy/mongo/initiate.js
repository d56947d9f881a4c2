// Run by the mongo-init service at every `docker compose up`, and harmless when done before:
// initiates the replica set rs0 of mongo-1..3 once, waits for a primary, then makes (or sets
// the password of) one database user per process, allowed on that process's own database
// only (liaison_<process>, kit/storage.py). mongo-1 made the root user at its first start
// (MONGO_INITDB_ROOT_USERNAME / _PASSWORD); every password comes from the env file.
const env = process.env;
const members = ["mongo-1:27017", "mongo-2:27017", "mongo-3:27017"];

function root(host, direct) {
  const options = direct ? "directConnection=true" : "replicaSet=rs0";
  const uri = `mongodb://${encodeURIComponent(env.MONGO_ROOT_USERNAME)}:` +
    `${encodeURIComponent(env.MONGO_ROOT_PASSWORD)}@${host}/admin?authSource=admin&${options}`;
  return connect(uri);
}

let admin = root(members[0], true);
let initiated = true;
try {
  admin.adminCommand({ replSetGetStatus: 1 });
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  initiated = false;
}
if (!initiated) {
  admin.adminCommand({
    replSetInitiate: {
      _id: "rs0",
      members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })),
    },
  });
  print("replica set rs0 initiated");
}

for (let tries = 0; ; tries++) {
  const hello = admin.adminCommand({ hello: 1 });
  if (hello.primary) break;
  if (tries >= 120) throw new Error("no primary within 120 s");
  sleep(1000);
}

admin = root(members.join(","), false);
for (const name of ["enterprise", "dispatch", "mediation", "appraisal", "fieldwork", "feeds",
                     "gateway"]) {
  const password = env[`${name.toUpperCase()}_MONGO_PASSWORD`];
  if (!password) throw new Error(`${name.toUpperCase()}_MONGO_PASSWORD is not set`);
  const user = `liaison.${name}`;
  const roles = [{ role: "readWrite", db: `liaison_${name}` }];
  if (admin.getUser(user)) {
    admin.updateUser(user, { pwd: password, roles });
  } else {
    admin.createUser({ user, pwd: password, roles });
  }
}
print("database users provisioned for every process");
